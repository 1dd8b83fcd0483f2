-- The scan of YCSB workload E as xckit's go-ycsb binding sends it (ordered keys,
-- uniform start, uniform length 1..100, all fields), for make bench-generator.
\set k random(0, :records - 1)
\set n random(1, 100)
SELECT * FROM usertable WHERE ycsb_key >= 'user' || :k ORDER BY ycsb_key LIMIT :n;
