package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/measurement"
	"github.com/pingcap/go-ycsb/pkg/prop"
	"github.com/pingcap/go-ycsb/pkg/ycsb"

	// The core workload registers itself with ycsb under the name "core".
	_ "github.com/pingcap/go-ycsb/pkg/workload"

	"github.com/xckit/xckit/internal/dbx"
)

// ycsbPresets are YCSB's standard core workloads A to F (the workloads/ files of
// the YCSB distribution, which go-ycsb ships too).
var ycsbPresets = map[string]map[string]string{
	"a": {"readproportion": "0.5", "updateproportion": "0.5", "requestdistribution": "zipfian"},
	"b": {"readproportion": "0.95", "updateproportion": "0.05", "requestdistribution": "zipfian"},
	"c": {"readproportion": "1", "updateproportion": "0", "requestdistribution": "zipfian"},
	"d": {"readproportion": "0.95", "updateproportion": "0", "insertproportion": "0.05", "requestdistribution": "latest"},
	"e": {"readproportion": "0", "updateproportion": "0", "scanproportion": "0.95", "insertproportion": "0.05",
		"requestdistribution": "zipfian", "maxscanlength": "100", "scanlengthdistribution": "uniform"},
	"f": {"readproportion": "0.5", "updateproportion": "0", "readmodifywriteproportion": "0.5", "requestdistribution": "zipfian"},
}

// YCSBScenario reports whether name is a ycsb.a ... ycsb.f scenario, and which.
func YCSBScenario(name string) (string, bool) {
	w, ok := strings.CutPrefix(name, "ycsb.")
	if _, known := ycsbPresets[w]; !ok || !known {
		return "", false
	}
	return w, true
}

// YCSBOptions describe a database-level YCSB run.
type YCSBOptions struct {
	DB       *dbx.DB
	Workload string            // a .. f
	Records  int64             // rows in the table (recordcount)
	Props    map[string]string // overrides of go-ycsb properties (fieldcount, requestdistribution, insertorder, ...)
}

// YCSBWorkload runs go-ycsb's core workload through an xckit binding on internal/dbx
// (pgx for openGauss and PostgreSQL, the MySQL driver for the legacy side). go-ycsb's
// own measurement is a process-global printer: it is kept switched off, and xckit's
// recorder measures each operation instead.
//
// go-ycsb's generators record their last value without synchronisation, and its own
// client shares one workload between threads. xckit gives each worker a workload
// of its own instead, except for d and e: their inserts draw keys from one shared
// sequence, so their operations are serialised (one at a time per generator).
type YCSBWorkload struct {
	wl      ycsb.Workload // loads the table; runs d and e
	props   *properties.Properties
	db      *ycsbDB
	records int64
	shared  bool       // d, e: every worker uses wl, one operation at a time
	run     sync.Mutex // held around a shared workload's operations
	mu      sync.Mutex // held while a worker's thread is made
	threads sync.Map   // worker -> *ycsbThread
	made    int        // threads made, under mu
}

type ycsbThread struct {
	wl  ycsb.Workload
	ctx context.Context // the thread state go-ycsb keeps in a context
}

// NewYCSB builds the workload; Prepare loads the table.
func NewYCSB(o YCSBOptions) (*YCSBWorkload, error) {
	preset, ok := ycsbPresets[o.Workload]
	if !ok {
		return nil, fmt.Errorf("ycsb workload %q: use a, b, c, d, e or f", o.Workload)
	}
	if o.Records <= 0 {
		return nil, errors.New("ycsb: the record count must be positive")
	}
	p := properties.NewProperties()
	set := func(k, v string) error {
		if _, _, err := p.Set(k, v); err != nil {
			return fmt.Errorf("ycsb property %s=%s: %w", k, v, err)
		}
		return nil
	}
	for k, v := range preset {
		set(k, v)
	}
	set(prop.RecordCount, fmt.Sprint(o.Records))
	set(prop.OperationCount, "0") // the driver decides how many
	for k, v := range o.Props {
		if k == prop.RecordCount {
			return nil, fmt.Errorf("ycsb property %s: give the record count with --records", k)
		}
		if err := set(k, v); err != nil {
			return nil, err
		}
	}
	// go-ycsb measures into a global that is never initialised here: keep it in its
	// warm-up state, in which it records nothing.
	measurement.EnableWarmUp(true)
	wl, err := createQuietly(p)
	if err != nil {
		return nil, fmt.Errorf("ycsb core workload: %w", err)
	}
	fields := int(p.GetInt64(prop.FieldCount, prop.FieldCountDefault))
	table := p.GetString(prop.TableName, prop.TableNameDefault)
	shared := p.GetFloat64(prop.InsertProportion, prop.InsertProportionDefault) > 0
	return &YCSBWorkload{wl: wl, props: p, db: newYCSBDB(o.DB, table, fields), records: o.Records, shared: shared}, nil
}

// createQuietly creates the core workload with os.Stdout pointed away: go-ycsb
// prints its key range there, which would corrupt xckit's -o json output.
func createQuietly(p *properties.Properties) (ycsb.Workload, error) {
	createMu.Lock()
	defer createMu.Unlock()
	if null, err := os.Open(os.DevNull); err == nil {
		saved := os.Stdout
		os.Stdout = null
		defer func() { os.Stdout = saved; null.Close() }()
	}
	return ycsb.GetWorkloadCreator("core").Create(p)
}

var createMu sync.Mutex

// Prepare makes the table hold exactly the workload's records: it is created when
// missing and reloaded when its row count differs (a run of d or e inserts rows).
// It returns how many rows it loaded.
func (y *YCSBWorkload) Prepare(ctx context.Context) (int64, error) {
	if err := y.db.create(ctx); err != nil {
		return 0, err
	}
	var n int64
	if err := y.db.db.QueryRowContext(ctx, "SELECT count(*) FROM "+y.db.table).Scan(&n); err != nil {
		return 0, fmt.Errorf("ycsb: count %s: %w", y.db.table, err)
	}
	if n == y.records {
		return 0, nil
	}
	if _, err := y.db.db.ExecContext(ctx, "DELETE FROM "+y.db.table); err != nil {
		return 0, fmt.Errorf("ycsb: empty %s: %w", y.db.table, err)
	}
	const loaders = 8
	errs := make(chan error, loaders)
	per := y.records / loaders
	for i := range int64(loaders) {
		count := per
		if i == loaders-1 {
			count = y.records - per*(loaders-1)
		}
		go func() {
			tctx := y.wl.InitThread(ctx, int(i), loaders)
			defer y.wl.CleanupThread(tctx)
			for range count {
				if err := y.wl.DoInsert(tctx, y.db); err != nil {
					errs <- fmt.Errorf("ycsb load: %w", err)
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range loaders {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return y.records, first
}

// Next returns one core-workload transaction on the worker's own thread state.
func (y *YCSBWorkload) Next(ctx context.Context, worker int) Op {
	th, err := y.thread(worker)
	if err != nil { // the same properties built the first workload: not expected, but said
		return func(context.Context) Result { return Result{Class: "ycsb:workload: " + err.Error()} }
	}
	return func(ctx context.Context) Result {
		if y.shared {
			y.run.Lock()
			defer y.run.Unlock()
		}
		// The thread state travels in th.ctx; the deadline in ctx.
		if err := th.wl.DoTransaction(mergeCtx{Context: ctx, values: th.ctx}, y.db); err != nil {
			return Result{Class: ycsbClass(err)}
		}
		return Result{Class: "ok"}
	}
}

func (y *YCSBWorkload) thread(worker int) (*ycsbThread, error) {
	if th, ok := y.threads.Load(worker); ok { // every operation: no lock once made
		return th.(*ycsbThread), nil
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if th, ok := y.threads.Load(worker); ok {
		return th.(*ycsbThread), nil
	}
	wl := y.wl
	if !y.shared {
		var err error
		if wl, err = createQuietly(y.props); err != nil {
			return nil, err
		}
	}
	y.made++
	th := &ycsbThread{wl: wl, ctx: wl.InitThread(context.Background(), worker, y.made)}
	y.threads.Store(worker, th)
	return th, nil
}

// Close ends the workload's threads.
func (y *YCSBWorkload) Close() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.threads.Range(func(_, v any) bool {
		th := v.(*ycsbThread)
		th.wl.CleanupThread(th.ctx)
		if th.wl != y.wl {
			th.wl.Close()
		}
		return true
	})
	return y.wl.Close()
}

// mergeCtx is ctx's deadline and cancellation with values's values.
type mergeCtx struct {
	context.Context
	values context.Context
}

func (m mergeCtx) Value(k any) any {
	if v := m.values.Value(k); v != nil {
		return v
	}
	return m.Context.Value(k)
}

func ycsbClass(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, sql.ErrNoRows):
		return "db:not_found"
	case dbx.IsUniqueViolation(err):
		return "db:duplicate_key"
	}
	return "db:error"
}

// ycsbDB is xckit's go-ycsb binding: one table, a key column and fieldN columns,
// plain SQL that openGauss, PostgreSQL and MySQL/MariaDB all run (no ON CONFLICT).
type ycsbDB struct {
	db     *dbx.DB
	table  string
	fields int
}

func newYCSBDB(db *dbx.DB, table string, fields int) *ycsbDB {
	return &ycsbDB{db: db, table: table, fields: fields}
}

func (d *ycsbDB) ph(n int) string { return d.db.Dialect.Placeholder(n) }

func (d *ycsbDB) create(ctx context.Context) error {
	cols := []string{"ycsb_key VARCHAR(64) PRIMARY KEY"}
	for i := range d.fields {
		cols = append(cols, fmt.Sprintf("field%d TEXT", i))
	}
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", d.table, strings.Join(cols, ", "))); err != nil {
		return fmt.Errorf("ycsb: create %s: %w", d.table, err)
	}
	return nil
}

func (d *ycsbDB) Close() error                                                 { return nil }
func (d *ycsbDB) InitThread(ctx context.Context, _ int, _ int) context.Context { return ctx }
func (d *ycsbDB) CleanupThread(context.Context)                                {}

func columns(fields []string) string {
	if len(fields) == 0 {
		return "*"
	}
	return strings.Join(fields, ", ")
}

func scanRows(rows *sql.Rows) ([]map[string][]byte, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string][]byte
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string][]byte, len(cols))
		for i, c := range cols {
			m[strings.ToLower(c)] = append([]byte(nil), vals[i]...)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (d *ycsbDB) Read(ctx context.Context, table, key string, fields []string) (map[string][]byte, error) {
	rows, err := d.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE ycsb_key = %s", columns(fields), table, d.ph(1)), key)
	if err != nil {
		return nil, err
	}
	all, err := scanRows(rows)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		// YCSB's zipfian chooser reaches one key past the loaded ones; like go-ycsb's
		// own SQL bindings, a read of a missing key is an empty answer.
		return nil, nil
	}
	return all[0], nil
}

func (d *ycsbDB) Scan(ctx context.Context, table, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	rows, err := d.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE ycsb_key >= %s ORDER BY ycsb_key LIMIT %d",
		columns(fields), table, d.ph(1), count), startKey)
	if err != nil {
		return nil, err
	}
	return scanRows(rows)
}

func sortedFields(values map[string][]byte) []string {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (d *ycsbDB) Update(ctx context.Context, table, key string, values map[string][]byte) error {
	names := sortedFields(values)
	sets := make([]string, len(names))
	args := make([]any, 0, len(names)+1)
	for i, n := range names {
		sets[i] = fmt.Sprintf("%s = %s", n, d.ph(i+1))
		args = append(args, string(values[n]))
	}
	args = append(args, key)
	// An update of a missing key (see Read) changes nothing, as in go-ycsb's bindings.
	_, err := d.db.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE ycsb_key = %s", table, strings.Join(sets, ", "), d.ph(len(names)+1)), args...)
	return err
}

func (d *ycsbDB) Insert(ctx context.Context, table, key string, values map[string][]byte) error {
	names := sortedFields(values)
	args := make([]any, 0, len(names)+1)
	args = append(args, key)
	for _, n := range names {
		args = append(args, string(values[n]))
	}
	_, err := d.db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (ycsb_key, %s) VALUES (%s)", table, strings.Join(names, ", "),
		d.db.Dialect.Placeholders(1, len(args))), args...)
	return err
}

func (d *ycsbDB) Delete(ctx context.Context, table, key string) error {
	_, err := d.db.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE ycsb_key = %s", table, d.ph(1)), key)
	return err
}
