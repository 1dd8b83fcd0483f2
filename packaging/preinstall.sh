#!/bin/sh
# The service user payd runs as; nothing is started: xckit install does that, when asked.
if ! getent passwd payd >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /sbin/nologin payd 2>/dev/null || \
  adduser --system --no-create-home --shell /usr/sbin/nologin payd 2>/dev/null || true
fi
exit 0
