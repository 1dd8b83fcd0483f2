package profiles

import "strings"

// Profile is everything xckit expects of one kind of site. Load and Resolve return
// profiles with `extends:` already applied.
type Profile struct {
	Name        string     `yaml:"name" json:"name"`
	Extends     string     `yaml:"extends,omitempty" json:"extends,omitempty"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Host        Host       `yaml:"host" json:"host"`
	Database    Database   `yaml:"database" json:"database"`
	Legacy      Legacy     `yaml:"legacy" json:"legacy"`
	Acceptance  Acceptance `yaml:"acceptance" json:"acceptance"`
	CDC         CDC        `yaml:"cdc" json:"cdc"`
	Rollback    Rollback   `yaml:"rollback" json:"rollback"`
}

// Host is what the operating system and hardware must look like.
type Host struct {
	Arch        []string          `yaml:"arch,omitempty" json:"arch,omitempty"`             // GOARCH names: arm64, amd64
	CPUModels   []string          `yaml:"cpu_models,omitempty" json:"cpu_models,omitempty"` // e.g. "Kunpeng 920"; empty: any
	OS          []OSRule          `yaml:"os,omitempty" json:"os,omitempty"`
	MinCores    int               `yaml:"min_cores,omitempty" json:"min_cores,omitempty"`
	MinMemory   ByteSize          `yaml:"min_memory,omitempty" json:"min_memory,omitempty"`
	Sysctl      map[string]string `yaml:"sysctl,omitempty" json:"sysctl,omitempty"` // "65535" (at least), "=1", "never"
	Limits      Limits            `yaml:"limits,omitempty" json:"limits,omitempty"`
	THP         string            `yaml:"thp,omitempty" json:"thp,omitempty"` // never | madvise | always; empty: any
	TimeSync    bool              `yaml:"time_sync,omitempty" json:"time_sync,omitempty"`
	DataDir     string            `yaml:"data_dir,omitempty" json:"data_dir,omitempty"`
	Disk        DiskRule          `yaml:"disk,omitempty" json:"disk,omitempty"`
	IOScheduler []string          `yaml:"io_scheduler,omitempty" json:"io_scheduler,omitempty"`
	Governor    string            `yaml:"cpu_governor,omitempty" json:"cpu_governor,omitempty"`
	Ports       []int             `yaml:"ports,omitempty" json:"ports,omitempty"` // must be free before install
}

// OSRule accepts one operating system: its /etc/os-release ID and versions.
type OSRule struct {
	ID       string   `yaml:"id" json:"id"`
	Name     string   `yaml:"name,omitempty" json:"name,omitempty"`
	Versions []string `yaml:"versions,omitempty" json:"versions,omitempty"` // VERSION_ID prefixes; empty: any
}

// Limits are the minimum per-process limits of the service user.
type Limits struct {
	NoFile int64 `yaml:"nofile,omitempty" json:"nofile,omitempty"`
	NProc  int64 `yaml:"nproc,omitempty" json:"nproc,omitempty"`
}

// DiskRule gives the used-space and used-inode thresholds of the data directory.
type DiskRule struct {
	WarnUsed   Percent  `yaml:"warn_used,omitempty" json:"warn_used,omitempty"`
	FailUsed   Percent  `yaml:"fail_used,omitempty" json:"fail_used,omitempty"`
	WarnInodes Percent  `yaml:"warn_inodes,omitempty" json:"warn_inodes,omitempty"`
	FailInodes Percent  `yaml:"fail_inodes,omitempty" json:"fail_inodes,omitempty"`
	MinFree    ByteSize `yaml:"min_free,omitempty" json:"min_free,omitempty"`
}

// Database is what the openGauss instance must offer.
type Database struct {
	Engine           string `yaml:"engine,omitempty" json:"engine,omitempty"` // opengauss
	AcceptPostgreSQL bool   `yaml:"accept_postgresql,omitempty" json:"accept_postgresql,omitempty"`
	MinVersion       string `yaml:"min_version,omitempty" json:"min_version,omitempty"`
	Encoding         string `yaml:"encoding,omitempty" json:"encoding,omitempty"`
	// Compatibility is the openGauss DBCOMPATIBILITY mode the platform's database is
	// created with and checked for (A, B, C or PG; default PG: '' is not NULL,
	// VARCHAR(n) counts characters, DATE keeps no time).
	Compatibility  string            `yaml:"compatibility,omitempty" json:"compatibility,omitempty"`
	Parameters     map[string]string `yaml:"parameters,omitempty" json:"parameters,omitempty"` // "logical", ">=1000"
	MinFreeSlots   int               `yaml:"min_free_slots,omitempty" json:"min_free_slots,omitempty"`
	MaxRetainedWAL ByteSize          `yaml:"max_retained_wal,omitempty" json:"max_retained_wal,omitempty"`
}

// Legacy is what the legacy MySQL/MariaDB database must offer.
type Legacy struct {
	Engines    []string `yaml:"engines,omitempty" json:"engines,omitempty"` // mysql, mariadb
	MinVersion string   `yaml:"min_version,omitempty" json:"min_version,omitempty"`
	Charset    string   `yaml:"charset,omitempty" json:"charset,omitempty"`
	BinlogRow  bool     `yaml:"binlog_row,omitempty" json:"binlog_row,omitempty"`
}

// Acceptance lists the certification cases, run in order.
type Acceptance struct {
	Cases []Case `yaml:"cases,omitempty" json:"cases,omitempty"`
}

// Case is one acceptance test and its pass criteria.
type Case struct {
	Name          string   `yaml:"name" json:"name"`
	Scenario      string   `yaml:"scenario" json:"scenario"` // payment.debit, payment.credit, ...
	TPS           Rate     `yaml:"tps" json:"tps"`
	Duration      Duration `yaml:"duration" json:"duration"`
	Warmup        Duration `yaml:"warmup,omitempty" json:"warmup,omitempty"`
	MaxAvgLatency Duration `yaml:"max_avg_latency,omitempty" json:"max_avg_latency,omitempty"`
	MaxP95Latency Duration `yaml:"max_p95_latency,omitempty" json:"max_p95_latency,omitempty"`
	MaxP99Latency Duration `yaml:"max_p99_latency,omitempty" json:"max_p99_latency,omitempty"`
	MinSuccess    Percent  `yaml:"min_success" json:"min_success"`
	MaxCPU        Percent  `yaml:"max_cpu,omitempty" json:"max_cpu,omitempty"`
	MaxMemory     Percent  `yaml:"max_memory,omitempty" json:"max_memory,omitempty"`
}

// CDC bounds the hot-standby replication into the legacy database.
type CDC struct {
	Plugin      string   `yaml:"plugin,omitempty" json:"plugin,omitempty"` // empty: the dialect's default
	MaxLag      Duration `yaml:"max_lag,omitempty" json:"max_lag,omitempty"`
	MaxLagBytes ByteSize `yaml:"max_lag_bytes,omitempty" json:"max_lag_bytes,omitempty"`
	BatchSize   int      `yaml:"batch_size,omitempty" json:"batch_size,omitempty"`
}

// Rollback bounds the one-command rollback.
type Rollback struct {
	RTOBudget    Duration `yaml:"rto_budget,omitempty" json:"rto_budget,omitempty"`
	DrainTimeout Duration `yaml:"drain_timeout,omitempty" json:"drain_timeout,omitempty"`
	SmokeTimeout Duration `yaml:"smoke_timeout,omitempty" json:"smoke_timeout,omitempty"`
}

// CompatibilityMode is the openGauss DBCOMPATIBILITY mode to use (default PG).
func (d Database) CompatibilityMode() string {
	if d.Compatibility == "" {
		return "PG"
	}
	return strings.ToUpper(d.Compatibility)
}
