package cutover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// FencedNode is one node of the new database as the rollback's fence found it.
type FencedNode struct {
	Node  string `json:"node"`  // host:port, as new.db names it
	Role  string `json:"role"`  // primary or standby
	Proof string `json:"proof"` // what refused the write
}

func (f FencedNode) String() string { return f.Node + " " + f.Role }

// proveFenceOnNodes connects to every node new.db names, as the platform's role,
// and tries a write that changes nothing (DELETE ... WHERE 1 = 0 on a platform
// table): every node must refuse it as read-only (SQLSTATE 25006), the primary
// because of the role's fence, a standby because it is in recovery. The fence is set
// on the primary only (ALTER ROLE replicates to the standbys that follow it); a node
// that takes the write is one that does not follow it — a standby promoted behind
// the kit's back, an old primary started again — and the application could write
// there while legacy becomes the truth. Such a node, or one the kit cannot reach,
// stops the rollback: nothing is proven about it.
func proveFenceOnNodes(ctx context.Context, o *op) ([]FencedNode, error) {
	app, err := dbx.ParseDSN(o.Site.New.DB)
	if err != nil {
		return nil, fmt.Errorf("new.db: %w", err)
	}
	var nodes []FencedNode
	var bad []string
	for _, n := range app.Nodes() {
		f, err := proveNodeFenced(ctx, o, n)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		nodes = append(nodes, f)
	}
	if len(bad) > 0 {
		return nodes, fmt.Errorf("the fence is not proven on every node of new.db: %s", strings.Join(bad, "; "))
	}
	return nodes, nil
}

func proveNodeFenced(ctx context.Context, o *op, n dbx.DSN) (FencedNode, error) {
	node := dbx.Endpoint{Host: n.Host, Port: n.Port}.String()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := dbx.OpenDSN(ctx, n, dbx.Options{AppName: "xckit-fence-proof", ConnectTimeout: 5 * time.Second})
	if err != nil {
		return FencedNode{}, fmt.Errorf("node %s cannot be reached as %s to prove it refuses writes (%s): bring it back, or, if it is gone for good, "+
			"remove it from new.db, new.admin_db and new.cdc_source in the site file and run the rollback again", node, n.User, dbx.Redact(err.Error()))
	}
	defer db.Close()
	standby, err := db.InRecovery(ctx)
	if err != nil {
		return FencedNode{}, fmt.Errorf("node %s: read its role: %w", node, err)
	}
	f := FencedNode{Node: node, Role: "primary", Proof: "refuses writes: role " + n.User + " is read-only"}
	if standby {
		f.Role, f.Proof = "standby", "refuses writes: in recovery"
	}
	tables, err := cdc.Tables(ctx, db, o.Site.CDC.Tables)
	if err != nil || len(tables) == 0 {
		return f, fmt.Errorf("node %s: list the platform's tables to prove the fence: %v", node, err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE 1 = 0", db.Dialect.QuoteIdent(tables[0])))
	switch {
	case err == nil:
		return f, fmt.Errorf("node %s (%s) accepts writes from role %s: it does not follow the fenced primary (a standby promoted, or an old primary started again?): "+
			"stop it, or make it follow the primary, then run the rollback again", node, f.Role, n.User)
	case !dbx.IsReadOnly(err):
		return f, fmt.Errorf("node %s: proving the fence: %w", node, err)
	}
	return f, nil
}

// nodesText is the step's account of the proof.
func nodesText(nodes []FencedNode) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.String())
	}
	word := "nodes"
	if len(nodes) == 1 {
		word = "node"
	}
	return fmt.Sprintf("writes refused on %d %s: %s", len(nodes), word, strings.Join(s, ", "))
}
