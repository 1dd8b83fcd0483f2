-- The read of YCSB workload C as xckit's go-ycsb binding sends it (insertorder=ordered
-- keys user0 .. userN-1, uniform choice, all fields), for make bench-generator.
\set k random(0, :records - 1)
SELECT * FROM usertable WHERE ycsb_key = 'user' || :k;
