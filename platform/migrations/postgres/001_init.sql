-- payd schema for openGauss and PostgreSQL. Portable to openGauss: no identity
-- columns, no ON CONFLICT; every table has a primary key (the CDC needs it).
CREATE TABLE accounts (
    id          BIGINT       PRIMARY KEY,
    customer    VARCHAR(64)  NOT NULL,
    currency    CHAR(3)      NOT NULL DEFAULT 'CNY',
    balance     BIGINT       NOT NULL,
    version     BIGINT       NOT NULL DEFAULT 0,
    updated_at  TIMESTAMP(6) NOT NULL
);
CREATE TABLE agreements (
    id             VARCHAR(40)  PRIMARY KEY,
    merchant       VARCHAR(64)  NOT NULL,
    customer       VARCHAR(64)  NOT NULL,
    channel        VARCHAR(32)  NOT NULL,
    account_id     BIGINT       NOT NULL REFERENCES accounts (id),
    status         VARCHAR(16)  NOT NULL,
    created_at     TIMESTAMP(6) NOT NULL,
    terminated_at  TIMESTAMP(6)
);
CREATE INDEX agreements_account ON agreements (account_id);
CREATE TABLE payments (
    req_id         VARCHAR(64)  PRIMARY KEY,
    merchant       VARCHAR(64)  NOT NULL,
    type           VARCHAR(8)   NOT NULL,
    agreement_id   VARCHAR(40)  NOT NULL,
    account_id     BIGINT       NOT NULL,
    channel        VARCHAR(32)  NOT NULL,
    amount         BIGINT       NOT NULL,
    currency       CHAR(3)      NOT NULL,
    status         VARCHAR(16)  NOT NULL,
    code           VARCHAR(32)  NOT NULL,
    body_hash      CHAR(64)     NOT NULL,
    created_at     TIMESTAMP(6) NOT NULL
);
CREATE INDEX payments_account ON payments (account_id);
