-- payd schema for MySQL and MariaDB (the legacy system). Same tables, same keys.
CREATE TABLE accounts (
    id          BIGINT       NOT NULL PRIMARY KEY,
    customer    VARCHAR(64)  NOT NULL,
    currency    CHAR(3)      NOT NULL DEFAULT 'CNY',
    balance     BIGINT       NOT NULL,
    version     BIGINT       NOT NULL DEFAULT 0,
    updated_at  DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE agreements (
    id             VARCHAR(40)  NOT NULL PRIMARY KEY,
    merchant       VARCHAR(64)  NOT NULL,
    customer       VARCHAR(64)  NOT NULL,
    channel        VARCHAR(32)  NOT NULL,
    account_id     BIGINT       NOT NULL,
    status         VARCHAR(16)  NOT NULL,
    created_at     DATETIME(6)  NOT NULL,
    terminated_at  DATETIME(6)  NULL,
    KEY agreements_account (account_id),
    CONSTRAINT agreements_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE payments (
    req_id         VARCHAR(64)  NOT NULL PRIMARY KEY,
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
    created_at     DATETIME(6)  NOT NULL,
    KEY payments_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
