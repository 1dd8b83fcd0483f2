package cdc

import "testing"

// The platform's bookkeeping (xc_) and xckit's own tables (xckit_) never take part,
// whether the name comes from the catalog or, schema-qualified, from a decoded change.
func TestSelected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		table    string
		patterns []string
		want     bool
	}{
		{"payments", nil, true},
		{"public.payments", nil, true},
		{"xc_nonces", nil, false},
		{"public.xc_nonces", nil, false},
		{"public.xc_schema_version", nil, false},
		{"xckit_cdc_checkpoint", nil, false},
		{"payd.xckit_cdc_checkpoint", []string{"*"}, false},
		{"payments", []string{"pay*"}, true},
		{"accounts", []string{"pay*"}, false},
	}
	for _, c := range cases {
		if got := Selected(c.table, c.patterns); got != c.want {
			t.Errorf("Selected(%q, %v) = %v, want %v", c.table, c.patterns, got, c.want)
		}
	}
}
