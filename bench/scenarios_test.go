package bench

import (
	"strings"
	"testing"
)

// Each platform scenario makes its workload; an unknown name is refused with the list.
func TestAPIScenarios(t *testing.T) {
	t.Parallel()
	target := APITarget{Accounts: 10, Channels: []string{"tenpay"}, RunID: "r"}
	for name, debit := range map[string]int{"payment.debit": 100, "payment.credit": 0, "payment.mixed": 70} {
		w, err := NewAPIWorkload(name, target)
		p, ok := w.(*PaymentWorkload)
		if err != nil || !ok || p.DebitPct != debit || p.Accounts != 10 || p.RunID != "r" {
			t.Errorf("%s: %#v %v", name, w, err)
		}
	}
	if w, err := NewAPIWorkload("payment.agreement", target); err != nil {
		t.Errorf("payment.agreement: %v", err)
	} else if _, ok := w.(*AgreementWorkload); !ok {
		t.Errorf("payment.agreement: %T", w)
	}
	if _, err := NewAPIWorkload("payment.refund", target); err == nil || !strings.Contains(err.Error(), "payment.mixed (70% debit)") {
		t.Errorf("an unknown scenario: %v", err)
	}
}
