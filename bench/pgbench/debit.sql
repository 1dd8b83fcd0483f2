-- The SQL of one payd debit, for pgbench: the statements payd sends on its happy path
-- (platform/store.go), so that `make bench-payd` compares payd with the database alone
-- on equal work: a balance update that checks the agreement in a subquery, and the
-- flow insert that takes the account from the agreement, in one transaction. Account n's
-- agreement is on channel n-1 mod 3 (tenpay, alipay, other), as `payd seed` makes it.
\set acct random(1, :accounts)
\set amt random(1, 1000)
\set r random(1, 9000000000000000)
\set ch (:acct - 1) % 3
BEGIN;
UPDATE accounts SET balance = balance - :amt, version = version + 1, updated_at = now() WHERE id = (SELECT account_id FROM agreements WHERE id = 'ag-seed-' || :acct AND merchant = 'lab-merchant' AND channel = (CASE :ch::int WHEN 0 THEN 'tenpay' WHEN 1 THEN 'alipay' ELSE 'other' END) AND status = 'active') AND balance >= :amt;
INSERT INTO payments (req_id, merchant, type, agreement_id, channel, amount, currency, status, code, body_hash, created_at, account_id) SELECT 'pgb-' || :client_id || '-' || :r, 'lab-merchant', 'debit', 'ag-seed-' || :acct, (CASE :ch::int WHEN 0 THEN 'tenpay' WHEN 1 THEN 'alipay' ELSE 'other' END), :amt, 'CNY', 'succeeded', 'ok', '0000000000000000000000000000000000000000000000000000000000000000', now(), account_id FROM agreements WHERE id = 'ag-seed-' || :acct;
END;
