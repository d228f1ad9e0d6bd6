#!/usr/bin/env bash
# Opens a run report in headless Chromium (Debian's package), checks that every
# image on it loaded, and writes a screenshot of the page.
#   bash scripts/report_screenshot.sh [REPORT_HTML] [SCREENSHOT_PNG]
# Defaults: outputs/report/index.html and outputs/report/screenshot.png.
# Installs chromium with apt-get when it is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
page=$(realpath "${1:-outputs/report/index.html}")
shot=$(realpath -m "${2:-$(dirname "$page")/screenshot.png}")
[ -f "$page" ] || { echo "error: report not found: $page (run tfxgan demo or tfxgan run first)" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    browser=$(command -v chromium)
  else
    echo "error: chromium is not installed (apt-get install chromium)" >&2; exit 2
  fi
fi
flags=(--headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1200
       --virtual-time-budget=5000)
# 1. the DOM after the page's load handler ran: it reports how many images rendered.
check=$("$browser" "${flags[@]}" --dump-dom "file://$page" 2>/dev/null \
        | grep -o "images loaded: [0-9]* of [0-9]*" || true)
if [ -z "$check" ]; then echo "error: the page's load check did not run in $browser" >&2; exit 1; fi
read -r _ _ ok _ total <<<"$check"
echo "$check"
# 2. the screenshot.
"$browser" "${flags[@]}" --screenshot="$shot" "file://$page" >/dev/null 2>&1
[ -s "$shot" ] || { echo "error: no screenshot written" >&2; exit 1; }
echo "screenshot: $shot"
if [ "$ok" != "$total" ]; then echo "error: $((total - ok)) image(s) failed to load" >&2; exit 1; fi
