-- Nonces of signed requests, kept until their timestamp leaves the accepted window:
-- a replay is refused after a restart and by every payd on this database. The xc_
-- prefix marks the platform's bookkeeping: the CDC, copy and verify leave it alone.
CREATE TABLE xc_nonces (
    merchant    VARCHAR(64)  NOT NULL,
    nonce       VARCHAR(64)  NOT NULL,
    expires_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (merchant, nonce),
    KEY xc_nonces_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
