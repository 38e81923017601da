#!/usr/bin/env bash
# Set up (first time) and run briefbot on the bundled sample corpus.
# With DISCORD_TOKEN set it starts the Discord bot; without it, the local console,
# which runs the same command handlers (/ask, /status, /reindex ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. .venv/bin/activate
if [ -f .env ]; then set -a; . ./.env; set +a; fi
if [ -n "${DISCORD_TOKEN:-}" ]; then
    exec briefbot run "$@"
fi
exec briefbot console "$@"
