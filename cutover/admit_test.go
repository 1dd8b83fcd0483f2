package cutover

import "testing"

// The decisions a runbook takes from the world it finds, before it changes anything.
func TestAdmit(t *testing.T) {
	t.Parallel()
	liveNew := World{Route: SideNew, NewUp: true, CDCRunning: true}
	liveLegacy := World{Route: SideLegacy, LegacyUp: true, NewFenced: true}
	drained := World{Route: SideNone}
	cases := []struct {
		name     string
		rollback bool
		w        World
		resuming bool
		want     string
	}{
		{"rollback from a live new side", true, liveNew, false, admitRun},
		{"rollback again after it completed", true, liveLegacy, false, admitNothing},
		{"rollback killed after its last step", true, liveLegacy, true, admitNothing},
		{"rollback before any cutover (legacy live, new unfenced)", true, World{Route: SideLegacy, LegacyUp: true, NewUp: true}, false, admitNothing},
		{"rollback with legacy live but cdc run still applying", true, World{Route: SideLegacy, LegacyUp: true, NewFenced: true, CDCRunning: true}, false, admitRefuse},
		{"rollback over a drained balancer, nothing in progress", true, drained, false, admitRefuse},
		{"rollback --resume over a drained balancer", true, drained, true, admitRun},
		{"rollback with legacy routed but down", true, World{Route: SideLegacy}, false, admitRefuse},
		{"rollback when the route cannot be read", true, World{RouteError: "refused"}, true, admitRefuse},
		{"cutover from a live legacy side", false, liveLegacy, false, admitRun},
		{"cutover again after it completed", false, liveNew, false, admitNothing},
		{"cutover over a live new side whose CDC stopped", false, World{Route: SideNew, NewUp: true}, false, admitRefuse},
		{"cutover over a live new side, legacy app up too", false, World{Route: SideNew, NewUp: true, LegacyUp: true, CDCRunning: true}, false, admitRefuse},
		{"cutover when the fence cannot be read", false, World{Route: SideNew, NewUp: true, CDCRunning: true, FenceError: "down"}, false, admitRefuse},
		{"cutover over a drained balancer, nothing in progress", false, drained, false, admitRefuse},
		{"cutover --resume over a drained balancer", false, drained, true, admitRun},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			admit := admitCutover
			if c.rollback {
				admit = admitRollback
			}
			got, why := admit(c.w, c.resuming)
			if got != c.want {
				t.Errorf("%s: %s (%s), want %s", c.w, got, why, c.want)
			}
			if got != admitRun && why == "" {
				t.Errorf("%s without a reason", got)
			}
		})
	}
}
