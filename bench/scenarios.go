package bench

import (
	"fmt"
	"strings"

	"github.com/xckit/xckit/platform"
)

// APITarget is the platform a payment scenario drives: its signed API, the seeded
// accounts 1..Accounts, its channels in their configured order, and a run id that keeps
// this run's request ids apart.
type APITarget struct {
	Client   *platform.Client
	Accounts int
	Channels []string
	RunID    string
}

// APIScenario is a scenario run through the platform's signed API.
type APIScenario struct {
	Name        string
	Description string
	New         func(t APITarget) Workload
}

func payments(debitPct int) func(t APITarget) Workload {
	return func(t APITarget) Workload {
		return &PaymentWorkload{Client: t.Client, Accounts: t.Accounts, Channels: t.Channels, DebitPct: debitPct, RunID: t.RunID}
	}
}

// APIScenarios are the platform scenarios, by name.
var APIScenarios = []APIScenario{
	{"payment.debit", "payment.debit", payments(100)},
	{"payment.credit", "payment.credit", payments(0)},
	{"payment.mixed", "payment.mixed (70% debit)", payments(70)},
	{"payment.agreement", "payment.agreement (sign and terminate)", func(t APITarget) Workload {
		return &AgreementWorkload{Client: t.Client, Accounts: t.Accounts, Channels: t.Channels, RunID: t.RunID}
	}},
}

// APIScenarioNamed finds a platform scenario.
func APIScenarioNamed(name string) (APIScenario, bool) {
	for _, s := range APIScenarios {
		if s.Name == name {
			return s, true
		}
	}
	return APIScenario{}, false
}

// APIScenarioList names them for help texts and errors.
func APIScenarioList() string {
	var out []string
	for _, s := range APIScenarios {
		out = append(out, s.Description)
	}
	return strings.Join(out, ", ")
}

// NewAPIWorkload is the named scenario's workload on the target.
func NewAPIWorkload(name string, t APITarget) (Workload, error) {
	s, ok := APIScenarioNamed(name)
	if !ok {
		return nil, fmt.Errorf("scenario %q: use %s", name, APIScenarioList())
	}
	return s.New(t), nil
}
