#!/bin/bash
# config.sh — `herd config show|hosts` against fleet files written to a
# temp dir: tables, JSON, sources and precedence (file < env < flag), the
# exact one-line errors with file:line, and the exit codes (0 ok, 1
# failure, 2 usage).  Needs $HERD (set by meson test) and python3 for JSON.
set -u
HERD=${HERD:?set HERD to the herd binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "ok   - $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $1"; }

# run ARGS...: captures $out, $err, $rc (never aborts the script)
run() {
	out=$("$@" 2>"$work/stderr")
	rc=$?
	err=$(cat "$work/stderr")
}

# expect_rc WHAT CODE
expect_rc() {
	if [ "$rc" -eq "$2" ]; then pass "$1: exit $2"; else
		fail "$1: exit $rc, want $2 (stderr: $err)"; fi
}
# expect_err WHAT EXACT-STDERR (also checks: one line, nothing on stdout)
expect_err() {
	if [ "$err" = "$2" ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
		pass "$1: message '$2'"
	else
		fail "$1: stderr '$err' stdout '$out', want '$2'"
	fi
}
# expect_line WHAT REGEX: some stdout line matches
expect_line() {
	if printf '%s\n' "$out" | grep -Eq -- "$2"; then pass "$1"; else
		fail "$1: no line matching '$2' in:"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}
# expect_json WHAT PYTHON-EXPR (over `d`, the parsed stdout)
expect_json() {
	if printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; then
		pass "$1"
	else
		fail "$1: JSON check '$2' failed on: $out"
	fi
}

# --- fixtures: a fake timezone database keeps results host-independent ---
mkdir -p "$work/zoneinfo/Europe" "$work/site"
printf 'TZif2' > "$work/zoneinfo/Europe/Berlin"
printf 'TZif2' > "$work/zoneinfo/UTC"
printf 'DE\tGermany\nGB\tBritain (UK)\n' > "$work/zoneinfo/iso3166.tab"
export HERD_ZONEINFO_DIR="$work/zoneinfo"
echo "ssh-ed25519 AAAA test" > "$work/site/key.pub"
echo "passphrase" > "$work/site/wifi.psk"
cat > "$work/site/fleet.yaml" <<'YAML'
image: raspios-lite-arm64@2025-10-01
defaults:
  user: pi
  password_hash: "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2"
  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }
  wifi: { ssid: lab, psk_file: wifi.psk, country: DE }
  timezone: Europe/Berlin
  locale: en_GB.UTF-8
  keymap: de
  network: { gateway: 10.1.1.1, dns: [10.1.1.1] }
  firstboot: { packages: [htop], run: [ "systemctl enable --now ssh" ] }
  files: [ { path: /etc/motd, content: "herd node\n", mode: "0644" } ]
hosts:
  red[01-04]:
    ipaddr: 10.1.1.[11-14]
  blue01:    { ipaddr: 10.1.1.30, wifi: null }
  green01: {}
YAML
F="$work/site/fleet.yaml"
cd "$work"  # run from elsewhere: relative references must follow the file
unset HERD_TIMEZONE HERD_LOCALE HERD_IPADDR HERD_HOSTNAME

echo "# help"
run "$HERD" --help
expect_line "herd --help lists config" '^  config +check a fleet file'
run "$HERD" config --help
expect_rc "config --help" 0
expect_line "config --help names show" '^  show \[--config FILE --host NAME\]'
expect_line "config --help names hosts" '^  hosts --config FILE'
run "$HERD" config show --help
expect_rc "config show --help" 0
for flag in --hostname --ipaddr --gateway --dns --sshkey --user --password-hash --passwd \
	"--ssh, --no-ssh" --ssid --wifipassword --wifi-country --timezone --locale --keymap; do
	expect_line "show --help documents $flag" "^  $flag( |,)"
done
run "$HERD" config hosts --help
expect_rc "config hosts --help" 0

echo "# hosts"
run "$HERD" config hosts --config "$F"
expect_rc "hosts" 0
expect_line "hosts header" '^HOST +IPADDR$'
expect_line "red01 paired with .11" '^red01 +10\.1\.1\.11/24$'
expect_line "red04 paired with .14" '^red04 +10\.1\.1\.14/24$'
expect_line "green01 without address" '^green01 +-$'
if [ "$(printf '%s\n' "$out" | sed -n '2p;6p;7p' | awk '{print $1}' | tr '\n' ' ')" = "red01 blue01 green01 " ]; then
	pass "hosts in file order"; else fail "hosts order: $out"; fi
run "$HERD" config hosts --config "$F" --json
expect_rc "hosts --json" 0
expect_json "hosts --json: 6 hosts, file order, null ipaddr" \
	'[h["host"] for h in d] == ["red01","red02","red03","red04","blue01","green01"] and d[2]["ipaddr"] == "10.1.1.13/24" and d[5]["ipaddr"] is None'
run "$HERD" --json config hosts --config "$F"
expect_json "global --json before the command" 'len(d) == 6'

echo "# show"
run "$HERD" config show --config "$F" --host red03
expect_rc "show red03" 0
expect_line "header" '^KEY +VALUE +SOURCE$'
expect_line "ipaddr paired, from line 15" "^ipaddr +10\.1\.1\.13/24 +$F:15\$"
expect_line "hostname from the hosts key (line 14)" "^hostname +red03 +$F:14\$"
expect_line "timezone from defaults (line 7)" "^timezone +Europe/Berlin +$F:7\$"
expect_line "password hash hidden" "^password_hash +\(secret\) +$F:4\$"
expect_line "key resolved against the file's directory" "^ssh.authorized_keys +$work/site/key.pub +$F:5\$"
expect_line "unset key" '^wifi\.psk +- +-$'
run "$HERD" config show --config "$F" --host blue01
expect_line "wifi: null resets the section" "^wifi\.ssid +- +$F:16 \(null\)\$"
run "$HERD" config show --config "$F" --host red01 --json
expect_rc "show --json" 0
expect_json "show --json values" \
	'd["host"] == "red01" and d["values"]["ipaddr"] == "10.1.1.11/24" and d["values"]["ssh.enabled"] is True and d["values"]["network.dns"] == ["10.1.1.1"] and d["values"]["files"][0]["mode"] == "0644" and "wifi.psk" not in d["values"]'
expect_json "show --json sources" \
	'd["sources"]["ipaddr"].endswith("fleet.yaml:15") and d["sources"]["user"].endswith("fleet.yaml:3")'

echo "# precedence: defaults < host < env < flag"
run env HERD_TIMEZONE=UTC "$HERD" config show --config "$F" --host red01
expect_line "env beats the file" '^timezone +UTC +env HERD_TIMEZONE$'
run env HERD_TIMEZONE=UTC "$HERD" config show --config "$F" --host red01 --timezone Europe/Berlin
expect_line "flag beats env" '^timezone +Europe/Berlin +flag --timezone$'
run "$HERD" config show --config "$F" --host red01 --no-ssh --sshkey site/key.pub --dns 9.9.9.9,1.1.1.1
expect_line "--no-ssh" '^ssh\.enabled +false +flag --no-ssh$'
expect_line "--sshkey relative to the cwd" "^ssh\.authorized_keys +site/key\.pub +flag --sshkey\$"
expect_line "--dns list" '^network\.dns +9\.9\.9\.9, 1\.1\.1\.1 +flag --dns$'
run env HERD_GATEWAY=10.9.9.9 HERD_SSH_ENABLED=false "$HERD" config show
expect_rc "show without a file" 0
expect_line "alias env HERD_GATEWAY" '^network\.gateway +10\.9\.9\.9 +env HERD_GATEWAY$'
expect_line "HERD_SSH_ENABLED" '^ssh\.enabled +false +env HERD_SSH_ENABLED$'

echo "# errors and exit codes"
printf 'defaults:\n  user: pi\n  timezon: UTC\n' > "$work/typo.yaml"
run "$HERD" config hosts --config typo.yaml
expect_rc "unknown key" 1
expect_err "unknown key" "herd: typo.yaml:3: unknown key 'timezon' (did you mean 'timezone'?)"
printf 'hosts:\n  a:\n    ipaddr: 10.1.1.300\n' > "$work/ip.yaml"
run "$HERD" config show --config ip.yaml --host a
expect_rc "bad ipaddr" 1
expect_err "bad ipaddr" "herd: ip.yaml:3: ipaddr: '10.1.1.300' is not an IPv4 address"
printf 'hosts:\n  red[01-04]:\n    ipaddr: 10.1.1.[11-13]\n' > "$work/pair.yaml"
run "$HERD" config hosts --config pair.yaml
expect_err "pairing mismatch" "herd: pair.yaml:3: ipaddr: '10.1.1.[11-13]' gives 3 values for 4 hosts"
printf 'hosts:\n  red[01-03]: {}\n  red02: {}\n' > "$work/dup.yaml"
run "$HERD" config hosts --config dup.yaml
expect_err "duplicate host" "herd: dup.yaml:3: host 'red02' is already defined at line 2"
printf 'defaults:\n  dns: [1.1.1.1\n' > "$work/syntax.yaml"
run "$HERD" config hosts --config syntax.yaml
expect_rc "YAML syntax error" 1
expect_err "YAML syntax error" "herd: syntax.yaml:3: flow sequence without a closing bracket"
printf 'defaults:\n  wifi: { ssid: lab, psk: hunter2hunter2 }\n' > "$work/psk.yaml"
run "$HERD" config hosts --config psk.yaml
expect_err "clear-text psk refused" "herd: psk.yaml:2: wifi.psk: clear-text secrets are not allowed in the fleet file; use wifi.psk_file"
run "$HERD" config hosts --config missing.yaml
expect_rc "missing file" 1
expect_err "missing file" "herd: missing.yaml: No such file or directory"
run "$HERD" config show --config "$F" --host red09
expect_rc "host not in file" 1
expect_err "host not in file" "herd: host 'red09' is not in $F"
run env HERD_IPADDR=1.2.3 "$HERD" config show --config "$F" --host red01
expect_rc "bad environment value" 1
expect_err "bad environment value" "herd: HERD_IPADDR: '1.2.3' is not an IPv4 address"
run "$HERD" config show --config "$F" --host red01 --ipaddr 10.1.1.999
expect_rc "bad flag value" 2
expect_err "bad flag value" "herd: config show: --ipaddr: '10.1.1.999' is not an IPv4 address (see 'herd config show --help')"
# --passwd prompts on the terminal; without one (setsid: no controlling
# tty) it fails and points at --passwd-stdin instead of reading stdin.
run setsid -w "$HERD" config show --passwd </dev/null
expect_rc "--passwd without a terminal" 1
expect_err "--passwd without a terminal" "herd: --passwd: no terminal to ask on (use --passwd-stdin to read the password from standard input)"
run "$HERD" config show --host red01
expect_rc "--host without --config" 2
run "$HERD" config show --config "$F"
expect_rc "--config without --host" 2
run "$HERD" config show --bogus
expect_rc "unknown option" 2
expect_err "unknown option" "herd: config show: unknown option '--bogus' (see 'herd config show --help')"
run "$HERD" config hosts
expect_rc "hosts without --config" 2
run "$HERD" config frob
expect_rc "unknown subcommand" 2
run "$HERD" config
expect_rc "missing subcommand" 2

echo "# the shipped example"
ex="${HERD_SOURCE_ROOT:-$(dirname "$0")/../..}/data/examples/fleet.yaml"
if [ -f "$ex" ]; then
	mkdir -p "$work/site/.ssh" && echo "ssh-ed25519 AAAA example" > "$work/site/.ssh/id_ed25519.pub"
	run env HOME="$work/site" "$HERD" config hosts --config "$ex"
	expect_rc "data/examples/fleet.yaml loads" 0
	expect_line "example: red04 paired" '^red04 +10\.1\.1\.14/24$'
	expect_line "example: quoted pairing" '^green-?b +10\.1\.2\.2/24$'
else
	fail "data/examples/fleet.yaml missing"
fi

echo "# $checks checks, $failures failed"
[ "$failures" -eq 0 ]
