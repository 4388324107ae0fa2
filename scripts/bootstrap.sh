# Sourced by ./hdp and ./run-tests: makes sure the pinned pnpm and the workspace's
# dependencies are installed. Needs only Node >= 20.19 and npm.
PNPM_VERSION=10.34.9
export TURBO_TELEMETRY_DISABLED=1 npm_config_update_notifier=false npm_config_nodedir="${npm_config_nodedir:-/usr}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number);console.log(a>20||(a===20&&b>=19)?1:0)' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  echo "harddrive-party needs Node.js >= 20.19 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  if [ -x "$repo_root/.tools/bin/pnpm" ] && [ "$("$repo_root/.tools/bin/pnpm" --version)" = "$PNPM_VERSION" ]; then
    export PATH="$repo_root/.tools/bin:$PATH"
  else
    echo "==> installing pnpm $PNPM_VERSION" >&2
    # corepack fails on registries that publish no signatures, so use npm directly.
    if npm i -g "pnpm@$PNPM_VERSION" >&2; then
      export PATH="$(npm prefix -g)/bin:$PATH"
    else
      # No write access to npm's global prefix: keep pnpm inside the checkout.
      npm i --prefix "$repo_root/.tools" -g "pnpm@$PNPM_VERSION" >&2
      export PATH="$repo_root/.tools/bin:$PATH"
    fi
    [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ] || { echo "could not install pnpm $PNPM_VERSION" >&2; exit 1; }
  fi
fi

cd "$repo_root"
stamp=node_modules/.modules.yaml
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ]; then
  echo "==> installing dependencies" >&2
  pnpm install --frozen-lockfile >&2
fi
