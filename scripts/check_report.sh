#!/usr/bin/env bash
# Checks a `carve report` page in headless Chromium: renders RUN/report.html (or the file given
# with --page) to a screenshot, dumps its DOM and fails when the console shows an error, the page
# does not load, refers to anything outside itself (a src or href that is not data:), or the DOM
# lacks the charts the page announces (<meta name="carve-charts">), a series line in every chart
# with as many points as it declares, or the embedded panel when RUN/samples has one.
#
#   scripts/check_report.sh RUN [--page FILE] [--out DIR]
#
# Installs Debian's chromium with apt-get when it is missing (needs root or sudo). Writes
# DIR/report.png (the screenshot, 1200 × 2400), DIR/dom.html and DIR/chromium.log; DIR defaults
# to RUN/report-check. Exit 0 = all checks passed; each failure is one "check_report: …" line.
set -euo pipefail

usage() { echo "usage: scripts/check_report.sh RUN [--page FILE] [--out DIR]" >&2; exit 64; }
[[ $# -ge 1 ]] || usage
run=$1; shift
page=$run/report.html
out=$run/report-check
while [[ $# -gt 0 ]]; do
    case $1 in
        --page) page=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) usage ;;
    esac
done
[[ -f $page ]] || { echo "check_report: $page: no such file (run carve report $run first)" >&2; exit 1; }
mkdir -p "$out"
page=$(realpath "$page")
out=$(realpath "$out")

# --- Chromium ---------------------------------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "check_report: installing chromium (apt-get)" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --no-default-browser-check
       --disable-extensions --disable-background-networking --disable-sync --disable-dev-shm-usage
       --user-data-dir="$out/profile" --enable-logging=stderr --v=0)
url="file://$page"

# The screenshot; console messages go to the log with --enable-logging=stderr.
timeout 120 chromium "${flags[@]}" --window-size=1200,2400 --screenshot="$out/report.png" "$url" \
    >"$out/chromium.log" 2>&1 || { echo "check_report: chromium --screenshot failed (see $out/chromium.log)" >&2; exit 1; }
timeout 120 chromium "${flags[@]}" --dump-dom "$url" >"$out/dom.html" 2>>"$out/chromium.log" \
    || { echo "check_report: chromium --dump-dom failed (see $out/chromium.log)" >&2; exit 1; }

# --- Checks -----------------------------------------------------------------------------------
failed=0
fail() { echo "check_report: $*" >&2; failed=1; }

[[ -s $out/report.png ]] || fail "no screenshot written"
# Console messages of the page: "CONSOLE(…)" lines, or "Uncaught …"/"Failed to load" anywhere.
if grep -E 'CONSOLE|Uncaught|Failed to load|ERR_FILE_NOT_FOUND|Not allowed to load' "$out/chromium.log" >"$out/console.log"; then
    fail "the console shows errors: $(head -1 "$out/console.log")"
fi

python3 - "$out/dom.html" "$run" <<'EOF' || failed=1
import os, re, sys
from html.parser import HTMLParser

dom_path, run = sys.argv[1], sys.argv[2]
dom = open(dom_path, encoding="utf-8").read()

class Walk(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta = None
        self.charts = []          # [name, series count, points of each series]
        self.images = []
        self.external = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "carve-charts":
            self.meta = int(a.get("content", "-1"))
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.charts.append([a.get("data-chart"), 0, []])
        if tag == "polyline" and "series" in (a.get("class") or "").split() and self.charts:
            points = (a.get("points") or "").split()
            self.charts[-1][1] += 1
            self.charts[-1][2].append((a.get("data-name"), len(points), int(a.get("data-count", "-1"))))
        if tag == "img" and "panel" in (a.get("class") or "").split():
            self.images.append(a.get("src") or "")
        for key in ("src", "href"):  # self-contained: nothing to fetch
            if a.get(key) and not a[key].startswith(("data:", "#")):
                self.external.append(f"<{tag} {key}={a[key][:60]}>")

walk = Walk()
walk.feed(dom)
problems = []
if walk.meta is None:
    problems.append('no <meta name="carve-charts"> (not a carve report, or the page did not load)')
elif walk.meta != len(walk.charts):
    problems.append(f"the page announces {walk.meta} charts, the DOM has {len(walk.charts)} svg.chart elements")
if not walk.charts:
    problems.append("no svg.chart element")
for name, count, series in walk.charts:
    if count == 0:
        problems.append(f"chart {name} has no series polyline")
    for series_name, points, declared in series:
        if points == 0 or points != declared:
            problems.append(f"chart {name} series {series_name}: {points} points, data-count {declared}")
for required in ("losses", "mask-area", "step-time"):
    if required not in [c[0] for c in walk.charts]:
        problems.append(f"no chart {required}")
samples = os.path.join(run, "samples")
if os.path.isdir(samples) and any(n.endswith(".png") for n in os.listdir(samples)):
    if not walk.images:
        problems.append("RUN/samples has panels but the page embeds none")
    for src in walk.images:
        if not src.startswith("data:image/png;base64,iVBORw0KGgo"):
            problems.append(f"a panel is not an embedded PNG: {src[:40]}")
for ref in walk.external:
    problems.append(f"the page loads something: {ref}")
if re.search(r"<parsererror", dom):
    problems.append("the DOM has a parser error")
for p in problems:
    print("check_report: " + p, file=sys.stderr)
print(f"check_report: {len(walk.charts)} charts, "
      f"{sum(c[1] for c in walk.charts)} series, {len(walk.images)} panel(s) in the DOM")
sys.exit(1 if problems else 0)
EOF

if [[ $failed -ne 0 ]]; then exit 1; fi
echo "check_report: ok — screenshot $out/report.png"
