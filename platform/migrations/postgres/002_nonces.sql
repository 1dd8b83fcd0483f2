-- Nonces of signed requests, kept until their timestamp leaves the accepted window:
-- a replay is refused after a restart and by every payd on this database. The xc_
-- prefix marks the platform's bookkeeping: the CDC, copy and verify leave it alone.
CREATE TABLE xc_nonces (
    merchant    VARCHAR(64)  NOT NULL,
    nonce       VARCHAR(64)  NOT NULL,
    expires_at  TIMESTAMP(6) NOT NULL,
    PRIMARY KEY (merchant, nonce)
);
CREATE INDEX xc_nonces_expires ON xc_nonces (expires_at);
