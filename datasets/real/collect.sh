#!/usr/bin/env bash
# Collect REAL log lines from real daemons run on loopback, then build real_logs.csv.
#
#   bash datasets/real/collect.sh            # from the repo root, as root, on Debian
#
# Every daemon gets its own config, its own port on 127.0.0.1 and its own log files under a
# temp dir (never the repo), is provoked with ordinary and failing requests, and is stopped
# again. Then build_dataset.py turns the raw logs into datasets/real/real_logs.csv.
#
# Environment:
#   LOGCLASS_RAW_DIR   where the raw logs go (default: a new mktemp dir under /tmp; kept)
#   SKIP_APT=1         do not install packages (they must be there already)
#   ONLY="web redis"   run only these sections (names as in SECTIONS below); the CSV then
#                      goes to $LOGCLASS_RAW_DIR/real_logs.csv, not over the full one
#   LOGCLASS_OUT       where to write the CSV (default: datasets/real/real_logs.csv)
#   PYTHON             python for build_dataset.py (default: .venv/bin/python of the repo)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
SYSPY=/usr/bin/python3
[[ -x $SYSPY ]] || SYSPY=$(command -v python3)
SECTIONS=(sshd web postgres redis mariadb vsftpd dnsmasq cron)
PARTIAL=${ONLY:+1}
ONLY=${ONLY:-${SECTIONS[*]}}
TEST_USER=lctester
TEST_GECOS="logclass collect"

if [[ $(id -u) -ne 0 ]]; then echo "collect.sh: run as root" >&2; exit 2; fi

say() { printf '[collect %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---------------------------------------------------------------- packages
PKGS=(nginx openssh-server openssh-client sshpass postgresql redis-server redis-tools cron
      haproxy squid vsftpd dnsmasq mariadb-server mariadb-client
      curl netcat-openbsd dnsutils openssl procps iproute2 passwd)
install_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    say "installing: ${missing[*]}"
    # Do not let the packages start their system services on the default ports.
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [[ $made_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
    return 0
}
[[ ${SKIP_APT:-0} == 1 ]] || install_packages

# ---------------------------------------------------------------- work dir, ports, cleanup
RAW=${LOGCLASS_RAW_DIR:-$(mktemp -d /tmp/logclass-real.XXXXXX)}
if [[ -n ${LOGCLASS_RAW_DIR:-} && -d $RAW && -n $(ls -A "$RAW") ]]; then
    echo "collect.sh: $RAW is not empty; give a new or empty LOGCLASS_RAW_DIR" >&2; exit 2
fi
mkdir -p "$RAW"
RAW=$(cd "$RAW" && pwd)
chmod 755 "$RAW"           # the daemons' own users must reach their sub-folders
mkdir -p "$RAW/run" "$RAW/driver"
: >"$RAW/run/pids"
say "raw logs go to $RAW"

PORTS_TAKEN=" "
port_busy() { ss -Htuln 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$1\$"; }
pick_port() {   # first free port >= $1 not already handed out
    local p=$1
    while port_busy "$p" || [[ $PORTS_TAKEN == *" $p "* ]]; do p=$((p + 1)); done
    PORTS_TAKEN+="$p "
    echo "$p"
}
SSH_PORT=$(pick_port 22022)
NGINX_PORT=$(pick_port 28080)
NGINX_TLS_PORT=$(pick_port 28443)
DEAD_PORT=$(pick_port 28099)        # nothing ever listens here: "connection refused"
SLOW_PORT=$(pick_port 28110)        # accepts, never answers: timeouts
CLOSE_PORT=$(pick_port 28120)       # accepts, closes at once: premature close
HAPROXY_PORT=$(pick_port 28180)
SQUID_PORT=$(pick_port 23128)
PG_PORT=$(pick_port 25432)
REDIS_PORT=$(pick_port 26379)
REDIS_REPLICA_PORT=$(pick_port 26380)
REDIS_BADREPLICA_PORT=$(pick_port 26381)
REDIS_SMALL_PORT=$(pick_port 26382)
MARIADB_PORT=$(pick_port 23306)
FTP_PORT=$(pick_port 22121)
FTP_PASV_MIN=$(pick_port 22130); FTP_PASV_MAX=$FTP_PASV_MIN
DNS_PORT=$(pick_port 25353)
DNS_DEAD_PORT=$(pick_port 25399)
export SSH_PORT NGINX_PORT NGINX_TLS_PORT DEAD_PORT SLOW_PORT CLOSE_PORT HAPROXY_PORT SQUID_PORT PG_PORT \
    REDIS_PORT REDIS_REPLICA_PORT REDIS_BADREPLICA_PORT REDIS_SMALL_PORT MARIADB_PORT FTP_PORT FTP_PASV_MIN DNS_PORT DNS_DEAD_PORT

# Per-run secrets: random, never reused, scrubbed from the data set by build_dataset.py.
rand() { openssl rand -hex 12; }
USER_PW=$(rand); PG_PW=$(rand); PG_LEGACY_PW=$(rand); REDIS_PW=$(rand); DB_PW=$(rand); WEB_PW=$(rand)
umask 077
printf '%s\n' "$USER_PW" "$PG_PW" "$PG_LEGACY_PW" "$REDIS_PW" "$DB_PW" "$WEB_PW" >"$RAW/run/secrets"
umask 022
hostname >"$RAW/run/hostname" 2>/dev/null || cat /proc/sys/kernel/hostname >"$RAW/run/hostname"

track() { echo "$1" >>"$RAW/run/pids"; }   # a pid we started, killed at exit if still alive
MADE_DEVLOG=0
cleanup() {
    local rc=$? pid f
    set +e
    say "cleaning up"
    touch "$RAW/run/stop-syslog"
    for f in "$RAW"/run/*.pidfile; do
        [[ -s $f ]] && head -1 "$f" >>"$RAW/run/pids"
    done
    # Each pid once, newest first; only processes this script started.
    for pid in $(tac "$RAW/run/pids" | awk '!seen[$0]++'); do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    sleep 1
    for pid in $(tac "$RAW/run/pids" | awk '!seen[$0]++'); do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    rm -f /etc/cron.d/logclass-collect /etc/cron.d/logclass-bad /etc/cron.d/logclass-insecure
    if [[ -n $TEST_USER ]] && [[ $(getent passwd "$TEST_USER" | cut -d: -f5) == "$TEST_GECOS" ]]; then
        crontab -r -u "$TEST_USER" 2>/dev/null
        userdel -r "$TEST_USER" >/dev/null 2>&1
    fi
    [[ $MADE_DEVLOG == 1 ]] && rm -f /dev/log
    return $rc
}
trap cleanup EXIT

wait_port() {   # wait_port PORT [SECONDS]
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do port_busy "$1" && return 0; sleep 0.1; done
    say "port $1 did not open"; return 1
}
wait_file_has() {   # wait_file_has FILE REGEX [SECONDS]
    local i
    for ((i = 0; i < ${3:-20} * 10; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
t() { timeout "${T:-15}" "$@" || true; }   # a client call: bounded, failure expected

# ---------------------------------------------------------------- syslog (/dev/log)
# PAM, cron, vsftpd's PAM and the account tools log through syslog(3). A tiny listener on
# /dev/log (only if none is there) writes each datagram as one line.
start_syslog() {
    mkdir -p "$RAW/syslog"
    if [[ -S /dev/log ]]; then
        say "/dev/log already exists: PAM/cron lines go to the machine's own syslog, not captured"
        return 0
    fi
    rm -f /dev/log
    "$SYSPY" - "$RAW/syslog/syslog.log" "$RAW/run/stop-syslog" <<'PY' &
import os, socket, sys, time
out, stop = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log"); os.chmod("/dev/log", 0o666); s.settimeout(0.5)
deadline = time.time() + 900          # bounded: never outlives a run
with open(out, "a", buffering=1, encoding="utf-8", errors="replace") as f:
    while time.time() < deadline and not os.path.exists(stop):
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        f.write(data.decode("utf-8", "replace").replace("\n", " ").rstrip("\x00 ") + "\n")
PY
    track $!
    MADE_DEVLOG=1
    local i; for ((i = 0; i < 50; i++)); do [[ -S /dev/log ]] && break; sleep 0.1; done
}
start_syslog

# ---------------------------------------------------------------- test account
# A throw-away local user with a random password (removed at exit); shadow's tools log
# their own lines (useradd, chpasswd, groupadd, gpasswd, groupdel, userdel) through syslog.
# A leftover of an interrupted run is recognised by its comment; any other user of that
# name is left alone and the run stops.
if id "$TEST_USER" >/dev/null 2>&1; then
    if [[ $(getent passwd "$TEST_USER" | cut -d: -f5) != "$TEST_GECOS" ]]; then
        echo "collect.sh: a user $TEST_USER exists that this script did not make; stopping" >&2
        TEST_USER=; exit 2
    fi
    userdel -r "$TEST_USER" >/dev/null 2>&1 || true
fi
useradd -m -s /bin/bash -c "$TEST_GECOS" "$TEST_USER"
echo "$TEST_USER:$USER_PW" | chpasswd
if ! getent group lcgroup >/dev/null; then
    groupadd lcgroup && gpasswd -a "$TEST_USER" lcgroup >/dev/null && groupdel lcgroup
fi
su - "$TEST_USER" -c true
runuser -u "$TEST_USER" -- true
export TEST_USER USER_PW PG_PW PG_LEGACY_PW REDIS_PW DB_PW WEB_PW RAW

# ================================================================ sections
# Each runs in its own background subshell (set -e applies inside), writes its progress to
# $RAW/driver/NAME.log, and stops its own daemons before it returns.

sec_sshd() {
    local D=$RAW/sshd; mkdir -p "$D" /run/sshd; chmod 755 "$D"
    ssh-keygen -q -t ed25519 -N '' -f "$D/host_ed25519" -C collect
    ssh-keygen -q -t ecdsa -N '' -f "$D/host_ecdsa" -C collect
    cat >"$D/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $D/host_ed25519
HostKey $D/host_ecdsa
PidFile $RAW/run/sshd.pidfile
LogLevel VERBOSE
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin no
MaxAuthTries 2
LoginGraceTime 30
DenyUsers nobody
AllowTcpForwarding yes
PermitTunnel no
PrintMotd no
Subsystem sftp internal-sftp -l INFO
EOF
    /usr/sbin/sshd -t -f "$D/sshd_config"
    /usr/sbin/sshd -D -e -f "$D/sshd_config" 2>>"$D/sshd.log" &
    track $!
    local SSHD=$!
    wait_port "$SSH_PORT"
    local O=(-p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
             -o ConnectTimeout=5 -o LogLevel=ERROR)
    local PW=(-o PreferredAuthentications=password -o PubkeyAuthentication=no)
    # key for public-key logins
    local H=/home/$TEST_USER
    install -d -m 700 -o "$TEST_USER" "$H/.ssh"
    ssh-keygen -q -t ed25519 -N '' -f "$D/user_key" -C collect
    ssh-keygen -q -t ed25519 -N '' -f "$D/other_key" -C collect
    install -m 600 -o "$TEST_USER" "$D/user_key.pub" "$H/.ssh/authorized_keys"
    echo "hello from collect" >"$D/upload.txt"

    # ordinary: password login running a command, key login, sftp session
    t sshpass -p "$USER_PW" ssh "${O[@]}" "${PW[@]}" "$TEST_USER@127.0.0.1" 'echo ok' >/dev/null
    t ssh "${O[@]}" -o BatchMode=yes -i "$D/user_key" "$TEST_USER@127.0.0.1" 'true'
    cat >"$D/sftp.batch" <<EOF
ls
put $D/upload.txt upload.txt
get upload.txt $D/download.txt
rename upload.txt renamed.txt
mkdir newdir
rmdir newdir
-get missing-file.txt $D/missing.txt
rm renamed.txt
EOF
    t sftp -b "$D/sftp.batch" -P "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -i "$D/user_key" "$TEST_USER@127.0.0.1" >/dev/null 2>&1
    # a tty session (may fail in a container without devpts: that error is real too)
    t ssh "${O[@]}" -tt -o BatchMode=yes -i "$D/user_key" "$TEST_USER@127.0.0.1" 'exit' </dev/null >/dev/null 2>&1
    # port forwarding to a dead port and to a live one
    T=8 t ssh "${O[@]}" -o BatchMode=yes -i "$D/user_key" -W "127.0.0.1:$DEAD_PORT" "$TEST_USER@127.0.0.1" </dev/null >/dev/null 2>&1

    # failures, in parallel (each waits for PAM's failure delay)
    printf '#!/bin/sh\necho wrong-password\n' >"$D/askpass"; chmod 755 "$D/askpass"
    local pids=()
    t sshpass -p wrong-password ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=1 "$TEST_USER@127.0.0.1" true & pids+=($!)
    t sshpass -p wrong-password ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=1 "nosuchuser@127.0.0.1" true & pids+=($!)
    t sshpass -p wrong-password ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=1 "root@127.0.0.1" true & pids+=($!)
    t sshpass -p wrong-password ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=1 "nobody@127.0.0.1" true & pids+=($!)
    # too many attempts (MaxAuthTries 2): ssh keeps asking its askpass helper
    SSH_ASKPASS=$D/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        T=20 t ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=3 "$TEST_USER@127.0.0.1" true </dev/null & pids+=($!)
    SSH_ASKPASS=$D/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        T=20 t ssh "${O[@]}" "${PW[@]}" -o NumberOfPasswordPrompts=3 "admin@127.0.0.1" true </dev/null & pids+=($!)
    t ssh "${O[@]}" -o BatchMode=yes -i "$D/other_key" "$TEST_USER@127.0.0.1" true & pids+=($!)
    t ssh "${O[@]}" -o BatchMode=yes -o PubkeyAuthentication=no -o PasswordAuthentication=no "$TEST_USER@127.0.0.1" true & pids+=($!)
    t ssh "${O[@]}" -o BatchMode=yes -o KexAlgorithms=diffie-hellman-group1-sha1 "$TEST_USER@127.0.0.1" true & pids+=($!)
    t ssh "${O[@]}" -o BatchMode=yes -o Ciphers=aes128-cbc "$TEST_USER@127.0.0.1" true & pids+=($!)
    # bare TCP: connect and close; send garbage; a banner and then hang up. (A client that
    # idles past LoginGraceTime is dropped without a log line by this sshd, so none here; the
    # grace time is long because two PAM failure delays must fit in it.)
    t nc -z 127.0.0.1 "$SSH_PORT"
    printf 'GET / HTTP/1.0\r\n\r\n' | T=5 t nc -w 3 127.0.0.1 "$SSH_PORT" >/dev/null
    printf 'SSH-2.0-Scanner_1.0\r\n' | T=5 t nc -w 3 127.0.0.1 "$SSH_PORT" >/dev/null
    wait "${pids[@]}" || true
    # config problems (sshd -t prints them): deprecated options, a missing host key; a bind clash
    sed -e 's/^LogLevel VERBOSE/LogLevel VERBOSE\nUsePrivilegeSeparation yes\nRSAAuthentication yes\nUseDNS no\nChallengeResponseAuthentication no/' \
        "$D/sshd_config" >"$D/old_config"
    /usr/sbin/sshd -t -f "$D/old_config" 2>>"$D/sshd-t.log" || true
    sed -e "s#^HostKey $D/host_ecdsa#HostKey $D/missing_host_key#" -e '/host_ed25519/d' "$D/sshd_config" >"$D/nokey_config"
    /usr/sbin/sshd -t -f "$D/nokey_config" 2>>"$D/sshd-t.log" || true
    sed -e "s#^PidFile .*#PidFile $D/clash.pid#" "$D/sshd_config" >"$D/clash_config"
    T=5 t /usr/sbin/sshd -D -e -f "$D/clash_config" 2>>"$D/sshd.log"
    # restart (SIGHUP re-execs in place), one more login, then stop
    kill -HUP "$SSHD"; sleep 1; wait_port "$SSH_PORT"
    t sshpass -p "$USER_PW" ssh "${O[@]}" "${PW[@]}" "$TEST_USER@127.0.0.1" 'true'
    kill -TERM "$SSHD"; wait "$SSHD" 2>/dev/null || true
}

sec_web() {
    local D=$RAW/nginx; mkdir -p "$D"/{logs,www/files,www/new,www/private,tmp}; chmod -R 755 "$D"
    echo '<h1>collect</h1>' >"$D/www/index.html"
    echo 'new' >"$D/www/new/index.html"
    echo 'secret' >"$D/www/private/x.html"
    echo 'no read' >"$D/www/unreadable.html"; chmod 000 "$D/www/unreadable.html"
    printf 'webadmin:%s\n' "$(openssl passwd -apr1 "$WEB_PW")" >"$D/htpasswd"; chmod 644 "$D/htpasswd"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
        -keyout "$D/tls.key" -out "$D/tls.crt" 2>/dev/null
    chmod 644 "$D/tls.key"
    cat >"$D/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $RAW/run/nginx.pidfile;
error_log $D/logs/error.log info;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log $D/logs/access.log combined;
    client_body_temp_path $D/tmp/body; proxy_temp_path $D/tmp/proxy;
    fastcgi_temp_path $D/tmp/fcgi; uwsgi_temp_path $D/tmp/uwsgi; scgi_temp_path $D/tmp/scgi;
    limit_req_zone \$binary_remote_addr zone=perip:1m rate=1r/m;
    large_client_header_buffers 2 1k;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        server_name localhost;
        root $D/www;
        location / { }
        location /private/ { deny all; }
        location = /old { return 301 /new/; }
        location /app/ { proxy_pass http://127.0.0.1:$DEAD_PORT; proxy_connect_timeout 2s; }
        location /slow/ { proxy_pass http://127.0.0.1:$SLOW_PORT; proxy_read_timeout 1s; }
        location /closed/ { proxy_pass http://127.0.0.1:$CLOSE_PORT; }
        location /php/ { fastcgi_pass unix:$D/no-such-php.sock; }
        location /loop { rewrite ^ /loop last; }
        location /admin/ { auth_basic "collect"; auth_basic_user_file $D/htpasswd; }
        location /limited/ { limit_req zone=perip burst=1 nodelay; }
        location /upload { client_max_body_size 16; }
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        server_name localhost;
        ssl_certificate $D/tls.crt; ssl_certificate_key $D/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $D/www;
    }
}
EOF
    local NG=(/usr/sbin/nginx -e "$D/logs/error.log" -c "$D/nginx.conf")
    "${NG[@]}" -t 2>>"$D/logs/stderr.log"
    "${NG[@]}"
    wait_port "$NGINX_PORT"
    local U=http://127.0.0.1:$NGINX_PORT C=(curl -s -o /dev/null --max-time 5)
    t "${C[@]}" "$U/"
    t "${C[@]}" "$U/index.html"
    t "${C[@]}" -I "$U/"
    t "${C[@]}" -A 'Mozilla/5.0 (X11; Linux x86_64) collect' -e "$U/" "$U/new/"
    t "${C[@]}" "$U/old"
    t "${C[@]}" "$U/new"
    t "${C[@]}" "$U/favicon.ico"
    t "${C[@]}" "$U/missing/page.html?id=42"
    t "${C[@]}" "$U/private/x.html"
    t "${C[@]}" "$U/files/"
    t "${C[@]}" "$U/unreadable.html"
    t "${C[@]}" "$U/app/orders"
    t "${C[@]}" "$U/php/index.php"
    t "${C[@]}" "$U/loop"
    t "${C[@]}" "$U/admin/"
    t "${C[@]}" -u "intruder:guess" "$U/admin/"
    t "${C[@]}" -u "webadmin:wrong" "$U/admin/"
    t "${C[@]}" -u "webadmin:$WEB_PW" "$U/admin/"
    t "${C[@]}" "$U/limited/"; t "${C[@]}" "$U/limited/"; t "${C[@]}" "$U/limited/"
    t "${C[@]}" -X POST -d 'a=1' "$U/index.html"
    t "${C[@]}" -X POST -d 'this body is longer than sixteen bytes' "$U/upload"
    t "${C[@]}" -X DELETE "$U/index.html"
    t "${C[@]}" -H 'Range: bytes=99999-' "$U/index.html"
    t "${C[@]}" -H 'Range: bytes=0-3' "$U/index.html"
    t "${C[@]}" -z "$D/www/index.html" "$U/index.html"
    t "${C[@]}" --http1.0 "$U/"
    t "${C[@]}" "$U/$(head -c 1100 /dev/zero | tr '\0' a)"
    t "${C[@]}" -H "X-Big: $(head -c 1100 /dev/zero | tr '\0' b)" "$U/"
    "$SYSPY" -c "import urllib.request as u
try: u.urlopen('$U/', timeout=5).read()
except Exception: pass"
    printf 'GARBAGE\r\n\r\n' | T=5 t nc -w 2 127.0.0.1 "$NGINX_PORT" >/dev/null
    printf 'GET / HTTP/1.1\r\n\r\n' | T=5 t nc -w 2 127.0.0.1 "$NGINX_PORT" >/dev/null
    printf 'GET /../../etc/passwd HTTP/1.0\r\n\r\n' | T=5 t nc -w 2 127.0.0.1 "$NGINX_PORT" >/dev/null
    T=5 t nc -z 127.0.0.1 "$NGINX_PORT"
    # upstream that never answers (timeout), client that gives up (499), upstream that closes at once
    T=6 t nc -l 127.0.0.1 "$SLOW_PORT" >/dev/null &
    sleep 0.3; t "${C[@]}" "$U/slow/report"
    T=6 t nc -l 127.0.0.1 "$SLOW_PORT" >/dev/null &
    sleep 0.3; t curl -s -o /dev/null --max-time 0.4 "$U/slow/report"
    (T=5 t nc -l -N 127.0.0.1 "$CLOSE_PORT" </dev/null >/dev/null) &
    sleep 0.3; t "${C[@]}" "$U/closed/"
    # TLS: a good request, plain HTTP to the TLS port, a refused old protocol
    t curl -sk -o /dev/null --max-time 5 "https://127.0.0.1:$NGINX_TLS_PORT/"
    t "${C[@]}" "http://127.0.0.1:$NGINX_TLS_PORT/"
    T=5 t openssl s_client -connect "127.0.0.1:$NGINX_TLS_PORT" -tls1_1 </dev/null >/dev/null 2>&1
    # config checks: a deprecated directive, an unknown one; a second master on a busy port
    sed -e 's#listen 127.0.0.1:'"$NGINX_TLS_PORT"' ssl;#listen 127.0.0.1:'"$NGINX_TLS_PORT"'; ssl on; http2_max_field_size 4k;#' \
        "$D/nginx.conf" >"$D/deprecated.conf"
    /usr/sbin/nginx -e "$D/logs/error.log" -c "$D/deprecated.conf" -t 2>>"$D/logs/stderr.log" || true
    sed -e 's#worker_processes 1;#worker_processes 1;\nworker_priority_boost on;#' "$D/nginx.conf" >"$D/bad.conf"
    /usr/sbin/nginx -e "$D/logs/error.log" -c "$D/bad.conf" -t 2>>"$D/logs/stderr.log" || true
    sed -e "s#^pid .*#pid $D/clash.pid;#" "$D/nginx.conf" >"$D/clash.conf"
    T=10 t /usr/sbin/nginx -e "$D/logs/error.log" -c "$D/clash.conf" 2>>"$D/logs/stderr.log"
    # reload, reopen logs
    "${NG[@]}" -s reload; sleep 1
    "${NG[@]}" -s reopen; sleep 0.5
    t "${C[@]}" "$U/"

    sec_haproxy
    sec_squid

    "${NG[@]}" -s quit
    local i; for ((i = 0; i < 50; i++)); do [[ -e $RAW/run/nginx.pidfile ]] || break; sleep 0.1; done
}

sec_haproxy() {
    local D=$RAW/haproxy; mkdir -p "$D"
    cat >"$D/haproxy.cfg" <<EOF
global
    log stdout format raw local0 info
    pidfile $RAW/run/haproxy.pidfile
    maxconn 100
defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 2s
frontend fe_main
    bind 127.0.0.1:$HAPROXY_PORT
    http-request deny if { path_beg /blocked }
    use_backend be_dead if { path_beg /dead }
    use_backend be_slow if { path_beg /slow }
    default_backend be_web
backend be_web
    server web1 127.0.0.1:$NGINX_PORT check inter 1s
backend be_dead
    server dead1 127.0.0.1:$DEAD_PORT check inter 1s fall 1
backend be_slow
    server slow1 127.0.0.1:$SLOW_PORT
EOF
    haproxy -c -f "$D/haproxy.cfg" >>"$D/haproxy.log" 2>&1 || true
    haproxy -db -f "$D/haproxy.cfg" >>"$D/haproxy.log" 2>&1 &
    track $!
    local HP=$!
    wait_port "$HAPROXY_PORT"
    sleep 2.5   # health checks mark dead1 DOWN
    local U=http://127.0.0.1:$HAPROXY_PORT C=(curl -s -o /dev/null --max-time 5)
    t "${C[@]}" "$U/"
    t "${C[@]}" "$U/missing.html"
    t "${C[@]}" "$U/private/x.html"
    t "${C[@]}" "$U/blocked/page"
    t "${C[@]}" "$U/dead/page"
    t "${C[@]}" -X POST -d x=1 "$U/index.html"
    T=6 t nc -l 127.0.0.1 "$SLOW_PORT" >/dev/null &
    sleep 0.3; t "${C[@]}" "$U/slow/x"
    printf 'BROKEN REQUEST\r\n\r\n' | T=4 t nc -w 2 127.0.0.1 "$HAPROXY_PORT" >/dev/null
    kill -USR1 "$HP"; sleep 1        # soft stop
    kill -TERM "$HP" 2>/dev/null || true; wait "$HP" 2>/dev/null || true
}

sec_squid() {
    local D=$RAW/squid; mkdir -p "$D"; chown proxy:proxy "$D"
    cat >"$D/squid.conf" <<EOF
http_port 127.0.0.1:$SQUID_PORT
visible_hostname loghost
pid_filename $RAW/run/squid.pidfile
cache_log $D/cache.log
access_log stdio:$D/access.log squid
cache_store_log none
coredump_dir $D
cache_effective_user proxy
cache_mem 8 MB
dns_nameservers 127.0.0.1
pinger_enable off
shutdown_lifetime 1 seconds
acl blocked urlpath_regex ^/blocked
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access deny blocked
http_access allow localhost
http_access deny all
EOF
    chown proxy:proxy "$D/squid.conf"
    squid -k parse -f "$D/squid.conf" >>"$D/parse.log" 2>&1 || true
    squid -N -f "$D/squid.conf" >>"$D/squid.out" 2>&1 &
    track $!
    local SQ=$!
    wait_port "$SQUID_PORT" 30 || return 0
    local P=(-x "http://127.0.0.1:$SQUID_PORT") C=(curl -s -o /dev/null --max-time 8)
    t "${C[@]}" "${P[@]}" "http://127.0.0.1:$NGINX_PORT/"
    t "${C[@]}" "${P[@]}" "http://127.0.0.1:$NGINX_PORT/"
    t "${C[@]}" "${P[@]}" "http://127.0.0.1:$NGINX_PORT/missing.html"
    t "${C[@]}" "${P[@]}" "http://127.0.0.1:$NGINX_PORT/blocked/x"
    t "${C[@]}" "${P[@]}" "http://127.0.0.1:$DEAD_PORT/"
    t "${C[@]}" "${P[@]}" "http://no-such-host.invalid/"
    t "${C[@]}" "${P[@]}" -p "http://127.0.0.1:$NGINX_PORT/"          # CONNECT to a non-TLS port: denied
    t "${C[@]}" "${P[@]}" -I "http://127.0.0.1:$NGINX_PORT/index.html"
    squid -k reconfigure -f "$D/squid.conf" >>"$D/squid.out" 2>&1 || true; sleep 1
    squid -k rotate -f "$D/squid.conf" >>"$D/squid.out" 2>&1 || true; sleep 0.5
    squid -k shutdown -f "$D/squid.conf" >>"$D/squid.out" 2>&1 || true
    local i; for ((i = 0; i < 60; i++)); do kill -0 "$SQ" 2>/dev/null || break; sleep 0.2; done
}

sec_postgres() {
    local D=$RAW/postgres BIN=/usr/lib/postgresql/15/bin
    [[ -d $BIN ]] || BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    install -d -o postgres -g postgres "$D" "$D/sock"
    local PGU=(runuser -u postgres --)
    echo "$PG_PW" >"$D/pwfile"; chown postgres "$D/pwfile"; chmod 600 "$D/pwfile"
    "${PGU[@]}" "$BIN/initdb" -D "$D/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --no-instructions >"$D/initdb.out" 2>&1
    cat >>"$D/data/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$D/sock'
logging_collector = off
log_line_prefix = '%m [%p] '
log_connections = on
log_disconnections = on
log_min_error_statement = error
log_checkpoints = on
log_lock_waits = on
deadlock_timeout = '200ms'
log_temp_files = 0
log_autovacuum_min_duration = 0
autovacuum_naptime = '1s'
max_connections = 8
superuser_reserved_connections = 2
max_wal_size = '32MB'
min_wal_size = '32MB'
EOF
    cat >"$D/data/pg_hba.conf" <<EOF
local   all       all                     trust
host    all       baduser   127.0.0.1/32  reject
host    all       legacy    127.0.0.1/32  md5
host    appdb,postgres  all 127.0.0.1/32  scram-sha-256
EOF
    local CTL=("${PGU[@]}" "$BIN/pg_ctl" -D "$D/data" -l "$D/postgresql.log" -w -t 30)
    "${CTL[@]}" start >/dev/null
    local SU=(psql -X -q -h "$D/sock" -p "$PG_PORT" -U postgres) TCP=(psql -X -q -h 127.0.0.1 -p "$PG_PORT")
    "${SU[@]}" -d postgres >/dev/null <<EOF
CREATE ROLE app LOGIN PASSWORD '$PG_PW';
CREATE ROLE noperm LOGIN PASSWORD '$PG_PW';
SET password_encryption = 'md5';
CREATE ROLE legacy LOGIN PASSWORD '$PG_LEGACY_PW';
CREATE DATABASE appdb OWNER app;
EOF
    export PGPASSWORD=$PG_PW PGCONNECT_TIMEOUT=5
    local APP=("${TCP[@]}" -U app -d appdb)
    "${APP[@]}" >/dev/null 2>&1 <<'EOF'
CREATE TABLE account (id int PRIMARY KEY, name varchar(5) NOT NULL, parent int REFERENCES account(id), balance numeric(5,2));
INSERT INTO account VALUES (1, 'ann', NULL, 1.00), (2, 'bob', 1, 2.00);
CREATE TABLE churn (id serial PRIMARY KEY, payload text);
INSERT INTO churn (payload) SELECT md5(g::text) FROM generate_series(1, 20000) g;
EOF
    # SQL errors, one statement per psql call so that each is logged on its own
    local q
    for q in \
        "INSERT INTO account VALUES (1, 'dup', NULL, 0)" \
        "INSERT INTO account VALUES (3, NULL, NULL, 0)" \
        "INSERT INTO account VALUES (4, 'x', 99, 0)" \
        "INSERT INTO account VALUES (5, 'much too long', NULL, 0)" \
        "INSERT INTO account VALUES (6, 'y', NULL, 123456)" \
        "SELECT 1/0" \
        "SELEC * FROM account" \
        "SELECT * FROM no_such_table" \
        "SELECT no_such_column FROM account" \
        "SELECT 'abc'::int" \
        "SELECT no_such_function(1)" \
        "SELECT * FROM account WHERE id = 'x'" \
        "DROP TABLE no_such_table" \
        "CREATE TABLE account (id int)" \
        "DELETE FROM account WHERE id = 1" \
        "COMMIT" \
        "SET statement_timeout = '100ms'; SELECT pg_sleep(1)" \
        "SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s" \
        "SET lock_timeout = '1ms'; LOCK TABLE pg_catalog.pg_class IN ACCESS EXCLUSIVE MODE" \
        "VACUUM FULL pg_catalog.pg_authid" \
        "SELECT pg_terminate_backend(1)" \
        ; do
        t "${APP[@]}" -c "$q" >/dev/null 2>&1
    done
    t "${APP[@]}" >/dev/null 2>&1 <<'EOF'
BEGIN;
SELECT * FROM no_such_table;
SELECT 1;
ROLLBACK;
EOF
    PGPASSWORD=$PG_PW t "${TCP[@]}" -U noperm -d appdb -c "SELECT * FROM account" >/dev/null 2>&1
    PGPASSWORD=$PG_PW t "${TCP[@]}" -U noperm -d appdb -c "CREATE DATABASE nope" >/dev/null 2>&1
    # a lock wait (logged after deadlock_timeout), then a deadlock between two sessions
    local pids=()
    "${APP[@]}" -c "BEGIN; UPDATE account SET balance = 3 WHERE id = 1; SELECT pg_sleep(1.2); COMMIT;" >/dev/null 2>&1 & pids+=($!)
    sleep 0.3
    "${APP[@]}" -c "UPDATE account SET balance = 4 WHERE id = 1" >/dev/null 2>&1 & pids+=($!)
    wait "${pids[@]}" || true; pids=()
    "${APP[@]}" -c "BEGIN; UPDATE account SET balance = 1 WHERE id = 1; SELECT pg_sleep(1); UPDATE account SET balance = 1 WHERE id = 2; COMMIT;" >/dev/null 2>&1 & pids+=($!)
    "${APP[@]}" -c "BEGIN; UPDATE account SET balance = 2 WHERE id = 2; SELECT pg_sleep(1); UPDATE account SET balance = 2 WHERE id = 1; COMMIT;" >/dev/null 2>&1 & pids+=($!)
    wait "${pids[@]}" || true; pids=()
    # refused logins: wrong scram password, wrong md5 password, no such role, no such database,
    # a pg_hba reject line, no pg_hba line at all
    PGPASSWORD=wrong t "${TCP[@]}" -U app -d appdb -c 'SELECT 1' >/dev/null 2>&1
    PGPASSWORD=wrong t "${TCP[@]}" -U legacy -d appdb -c 'SELECT 1' >/dev/null 2>&1
    PGPASSWORD=wrong t "${TCP[@]}" -U ghost -d appdb -c 'SELECT 1' >/dev/null 2>&1
    t "${SU[@]}" -d nodb -c 'SELECT 1' >/dev/null 2>&1
    PGPASSWORD=wrong t "${TCP[@]}" -U baduser -d appdb -c 'SELECT 1' >/dev/null 2>&1
    t "${TCP[@]}" -U app -d template1 -c 'SELECT 1' >/dev/null 2>&1
    t "${TCP[@]}" -U app -d appdb "sslmode=require" -c 'SELECT 1' >/dev/null 2>&1
    t psql -X "host=127.0.0.1 port=$PG_PORT user=app dbname=appdb sslmode=require" -c 'SELECT 1' >/dev/null 2>&1
    # bare TCP: garbage, protocol 4.0, a partial startup packet, nothing at all
    printf 'GET / HTTP/1.0\r\n\r\n' | T=4 t nc -w 1 127.0.0.1 "$PG_PORT" >/dev/null
    printf '\x00\x00\x00\x08\x00\x04\x00\x00' | T=4 t nc -w 1 127.0.0.1 "$PG_PORT" >/dev/null
    printf '\x00\x00\x00\x10\x00\x03' | T=4 t nc -w 1 127.0.0.1 "$PG_PORT" >/dev/null
    T=4 t nc -z 127.0.0.1 "$PG_PORT"
    printf '\x00\x00\x00\x08\x04\xd2\x16\x2f' | T=4 t nc -w 1 127.0.0.1 "$PG_PORT" >/dev/null   # SSLRequest, then EOF
    # too many clients: 6 app sessions fill the non-reserved slots, then 2 superusers the rest
    local i
    for i in 1 2 3 4 5 6; do "${APP[@]}" -c 'SELECT pg_sleep(4)' >/dev/null 2>&1 & pids+=($!); done
    sleep 1
    t "${APP[@]}" -c 'SELECT 1' >/dev/null 2>&1
    for i in 1 2; do "${SU[@]}" -d postgres -c 'SELECT pg_sleep(3)' >/dev/null 2>&1 & pids+=($!); done
    sleep 1
    t "${SU[@]}" -d postgres -c 'SELECT 1' >/dev/null 2>&1
    wait "${pids[@]}" || true; pids=()
    # a cancelled and a terminated query, a client that vanishes inside a transaction
    "${APP[@]}" -c "SELECT pg_sleep(5) /* cancel-me */" >/dev/null 2>&1 & pids+=($!)
    "${APP[@]}" -c "SELECT pg_sleep(5) /* kill-me */" >/dev/null 2>&1 & pids+=($!)
    sleep 1
    "${SU[@]}" -d postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%cancel-me%' AND pid <> pg_backend_pid()" >/dev/null
    "${SU[@]}" -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%kill-me%' AND pid <> pg_backend_pid()" >/dev/null
    wait "${pids[@]}" || true; pids=()
    mkfifo "$D/fifo"
    "${APP[@]}" <"$D/fifo" >/dev/null 2>&1 &
    local PSQL=$!
    exec {FD}>"$D/fifo"
    echo "BEGIN; SELECT 1;" >&$FD
    sleep 1
    kill -KILL "$PSQL" 2>/dev/null || true
    exec {FD}>&-
    wait "$PSQL" 2>/dev/null || true
    # checkpoints, autovacuum, WAL churn ("checkpoints are occurring too frequently")
    "${SU[@]}" -d postgres -c 'CHECKPOINT' >/dev/null
    "${APP[@]}" -c 'DELETE FROM churn WHERE id % 2 = 0' >/dev/null
    "${APP[@]}" -c "INSERT INTO churn (payload) SELECT repeat(md5(g::text), 4) FROM generate_series(1, 400000) g" >/dev/null
    sleep 3
    # configuration: a reload with a change, a reload with a line that needs a restart
    "${SU[@]}" -d postgres -c "ALTER SYSTEM SET work_mem = '8MB'" -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
    echo "shared_buffers = '64MB'" >>"$D/data/postgresql.conf"
    echo "work_mem = 'lots'" >>"$D/data/postgresql.conf"
    "${SU[@]}" -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
    sed -i -e "/^work_mem = 'lots'/d" "$D/data/postgresql.conf"
    "${SU[@]}" -d postgres -c "ALTER SYSTEM SET no_such_setting = 1" >/dev/null 2>&1 || true
    # a second postmaster on the same data directory
    T=5 t "${PGU[@]}" "$BIN/postgres" -D "$D/data" >>"$D/postgresql.log" 2>&1
    # stops and starts: fast, smart, immediate (crash recovery on the next start)
    local REL
    REL=$("${APP[@]}" -At -c "SELECT pg_relation_filepath('account')")
    "${CTL[@]}" stop -m fast >/dev/null
    "${CTL[@]}" start >/dev/null
    t "${APP[@]}" -c 'SELECT 1' >/dev/null 2>&1
    "${CTL[@]}" stop -m immediate >/dev/null
    "${CTL[@]}" start >/dev/null
    "${CTL[@]}" stop -m smart >/dev/null
    # data corruption: a damaged page of a table, then a damaged control file (the server
    # refuses to start). This throw-away cluster is deleted with the raw dir.
    printf 'CORRUPTED-PAGE-HEADER-CORRUPTED-PAGE-HEADER' | dd of="$D/data/$REL" bs=1 seek=0 conv=notrunc status=none
    "${CTL[@]}" start >/dev/null
    t "${APP[@]}" -c 'SELECT * FROM account' >/dev/null 2>&1
    "${CTL[@]}" stop -m fast >/dev/null
    printf 'XXXXXXXXXXXXXXXX' | dd of="$D/data/global/pg_control" bs=1 seek=16 conv=notrunc status=none
    "${CTL[@]}" start >/dev/null 2>&1 || true
    unset PGPASSWORD
    rm -rf "$D/data"      # the throw-away cluster (~130 MB); the log stays
}

sec_redis() {
    local D=$RAW/redis; mkdir -p "$D"; chown redis:redis "$D"
    local RS=(runuser -u redis -- redis-server)
    cat >"$D/master.conf" <<EOF
port $REDIS_PORT
bind 127.0.0.1
daemonize no
logfile $D/redis.log
loglevel debug
dir $D
dbfilename master.rdb
appenddirname master-aof
pidfile $RAW/run/redis.pidfile
requirepass $REDIS_PW
save 2 1
EOF
    sed -e "s/^port .*/port $REDIS_REPLICA_PORT/" -e 's/master.rdb/replica.rdb/' -e 's/master-aof/replica-aof/' \
        -e "s#^pidfile .*#pidfile $RAW/run/redis-replica.pidfile#" -e 's/^loglevel .*/loglevel verbose/' \
        -e "s#$D/redis.log#$D/redis-replica.log#" "$D/master.conf" >"$D/replica.conf"
    printf 'replicaof 127.0.0.1 %s\nmasterauth %s\n' "$REDIS_PORT" "$REDIS_PW" >>"$D/replica.conf"
    sed -e "s/^port .*/port $REDIS_BADREPLICA_PORT/" -e 's/master.rdb/bad.rdb/' -e 's/master-aof/bad-aof/' \
        -e "s#^pidfile .*#pidfile $RAW/run/redis-bad.pidfile#" -e 's/^loglevel .*/loglevel notice/' \
        -e "s#$D/redis.log#$D/redis-badreplica.log#" "$D/master.conf" >"$D/bad.conf"
    printf 'replicaof 127.0.0.1 %s\nmasterauth wrong-password\n' "$REDIS_PORT" >>"$D/bad.conf"
    chown redis:redis "$D"/*.conf; chmod 600 "$D"/*.conf
    "${RS[@]}" "$D/master.conf" >"$D/master.out" 2>&1 &
    track $!
    wait_port "$REDIS_PORT"
    export REDISCLI_AUTH=$REDIS_PW
    local R=(redis-cli -p "$REDIS_PORT")
    t redis-cli -p "$REDIS_PORT" --no-auth-warning --user default --pass wrong-password PING >/dev/null 2>&1
    REDISCLI_AUTH= t redis-cli -p "$REDIS_PORT" SET k v >/dev/null 2>&1
    local i
    for i in $(seq 1 40); do echo "SET key:$i $(head -c 50000 /dev/zero | tr '\0' x)"; done | "${R[@]}" >/dev/null
    "${R[@]}" CONFIG SET maxmemory-policy noeviction >/dev/null
    "${R[@]}" CONFIG SET maxmemory 1mb >/dev/null
    for i in $(seq 41 45); do "${R[@]}" SET "key:$i" value >/dev/null 2>&1 || true; done
    "${R[@]}" CONFIG SET maxmemory 0 >/dev/null
    "${R[@]}" CONFIG SET no-such-parameter 1 >/dev/null 2>&1 || true
    "${R[@]}" CONFIG REWRITE >/dev/null
    "${R[@]}" MODULE LOAD "$D/no-such-module.so" >/dev/null 2>&1 || true
    # replicas: one that syncs, one with the wrong masterauth
    "${RS[@]}" "$D/replica.conf" >"$D/replica.out" 2>&1 &
    track $!
    local REPLICA=$!
    "${RS[@]}" "$D/bad.conf" >"$D/bad.out" 2>&1 &
    track $!
    local BAD=$!
    wait_file_has "$D/redis-replica.log" 'MASTER <-> REPLICA sync: Finished|Finished with success' 15 || true
    sleep 1
    "${R[@]}" BGSAVE >/dev/null; sleep 1.5
    "${R[@]}" SAVE >/dev/null
    "${R[@]}" BGREWRITEAOF >/dev/null; sleep 1.5
    "${R[@]}" CONFIG SET appendonly yes >/dev/null; sleep 1.5
    "${R[@]}" SET trigger 1 >/dev/null; sleep 2.5      # "save 2 1" fires
    "${R[@]}" CLIENT KILL TYPE normal >/dev/null 2>&1 || true
    # an HTTP request sent to redis (cross-protocol scripting guard)
    t curl -s -o /dev/null --max-time 3 -X POST -d 'x=1' "http://127.0.0.1:$REDIS_PORT/"
    # a clash on the port, config file errors, an unwritable log file
    printf 'port %s\nbind 127.0.0.1\nlogfile %s\ndir %s\n' "$REDIS_PORT" "$D/redis-clash.log" "$D" >"$D/clash.conf"
    T=5 t "${RS[@]}" "$D/clash.conf" >>"$D/clash.out" 2>&1
    printf 'port notanumber\n' >"$D/broken.conf"
    T=5 t "${RS[@]}" "$D/broken.conf" >>"$D/redis-stderr.log" 2>&1
    printf 'port %s\nbind 127.0.0.1\nmaxmemory-policy sometimes\n' "$REDIS_SMALL_PORT" >"$D/broken2.conf"
    T=5 t "${RS[@]}" "$D/broken2.conf" >>"$D/redis-stderr.log" 2>&1
    mkdir -p "$D/locked"; chmod 700 "$D/locked"
    printf 'port %s\nbind 127.0.0.1\nlogfile %s\n' "$REDIS_SMALL_PORT" "$D/locked/redis.log" >"$D/locked.conf"
    T=5 t "${RS[@]}" "$D/locked.conf" >>"$D/redis-stderr.log" 2>&1
    # a tiny maxmemory (start-up warning), then a corrupt RDB file (refuses to load)
    printf 'port %s\nmaxmemory 100kb\nloglevel verbose\nlogfile %s\ndir %s\nbind 127.0.0.1\n' \
        "$REDIS_SMALL_PORT" "$D/redis-small.log" "$D" >"$D/small.conf"
    T=2 t "${RS[@]}" "$D/small.conf" >/dev/null 2>&1
    mkdir -p "$D/corrupt"
    printf 'REDIS0010\xff12345678' >"$D/corrupt/checksum.rdb"                       # bad CRC
    printf 'REDIS0010\xfe\x00\xfb\x01\x00\x00\xe3key' >"$D/corrupt/encoding.rdb"       # bad string encoding
    printf 'REDIS0010\xfa\x09redis-ver\x067.0.15\xfe\x00\xfb\x05\x00\x00\x03key' >"$D/corrupt/short.rdb"
    printf 'NOTREDIS-AT-ALL' >"$D/corrupt/wrong.rdb"
    chown -R redis:redis "$D/corrupt"
    local f
    for f in checksum encoding short wrong; do
        printf 'port %s\nlogfile %s\ndir %s\ndbfilename %s.rdb\nbind 127.0.0.1\n' \
            "$REDIS_SMALL_PORT" "$D/redis-corrupt.log" "$D/corrupt" "$f" >"$D/corrupt-$f.conf"
        T=4 t "${RS[@]}" "$D/corrupt-$f.conf" >/dev/null 2>&1
    done
    chown redis:redis "$D"/*.conf
    # master goes away: the replica notices, retries, is promoted by hand
    "${R[@]}" SHUTDOWN >/dev/null 2>&1 || true
    sleep 2.5
    redis-cli -p "$REDIS_REPLICA_PORT" REPLICAOF NO ONE >/dev/null 2>&1 || true
    sleep 0.5
    kill -TERM "$REPLICA" "$BAD" 2>/dev/null || true
    wait "$REPLICA" "$BAD" 2>/dev/null || true
    # restart of the master (loads its RDB/AOF), then a SIGTERM stop
    "${RS[@]}" "$D/master.conf" >>"$D/master.out" 2>&1 &
    track $!
    local M2=$!
    wait_port "$REDIS_PORT"; sleep 0.5
    "${R[@]}" DBSIZE >/dev/null
    kill -TERM "$M2"; wait "$M2" 2>/dev/null || true
    unset REDISCLI_AUTH
}

sec_mariadb() {
    local D=$RAW/mariadb; mkdir -p "$D"; chown mysql:mysql "$D"
    mariadb-install-db --no-defaults --user=mysql --datadir="$D/data" --auth-root-authentication-method=socket \
        --skip-test-db >"$D/install.out" 2>&1
    local M=(mariadbd --no-defaults --user=mysql --datadir="$D/data" --socket="$D/mysql.sock"
             --port="$MARIADB_PORT" --bind-address=127.0.0.1 --pid-file="$D/mariadb.pid"
             --log-error="$D/error.log" --log-warnings=4 --innodb-buffer-pool-size=16M
             --max-connections=10 --skip-name-resolve --plugin-load-add=sql_errlog
             --sql-error-log-filename="$D/sql_errors.log" --lc-messages-dir=/usr/share/mariadb)
    "${M[@]}" >"$D/mariadbd.out" 2>&1 &
    track $!
    local MD=$!
    wait_port "$MARIADB_PORT" 40
    local ROOT=(mariadb --no-defaults -S "$D/mysql.sock" -uroot)
    "${ROOT[@]}" -e "CREATE DATABASE shop; CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '$DB_PW';
        GRANT ALL ON shop.* TO 'app'@'127.0.0.1'; CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY '$DB_PW';
        GRANT SELECT ON shop.* TO 'reader'@'127.0.0.1';"
    local APP=(mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -uapp "-p$DB_PW" shop)
    "${APP[@]}" -e "CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(5) NOT NULL); INSERT INTO item VALUES (1,'a');
        CREATE TABLE legacy (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM; INSERT INTO legacy VALUES (1,'a'),(2,'b');"
    local q
    for q in "INSERT INTO item VALUES (1,'dup')" "SELECT * FROM no_such_table" "SELEC 1" \
             "SELECT no_col FROM item" "INSERT INTO item VALUES (2, NULL)" "DROP DATABASE mysql" \
             "SELECT 1/0; SHOW WARNINGS"; do
        t "${APP[@]}" -e "$q" >/dev/null 2>&1
    done
    t mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -ureader "-p$DB_PW" shop -e "DELETE FROM item" >/dev/null 2>&1
    t mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -uapp -pwrong shop -e "SELECT 1" >/dev/null 2>&1
    t mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -ughost -pwrong shop -e "SELECT 1" >/dev/null 2>&1
    t mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -uapp "-p$DB_PW" nodb -e "SELECT 1" >/dev/null 2>&1
    printf 'GET / HTTP/1.0\r\n\r\n' | T=4 t nc -w 1 127.0.0.1 "$MARIADB_PORT" >/dev/null
    # too many connections, an aborted connection (client killed)
    local i pids=()
    for i in $(seq 1 11); do "${APP[@]}" -e 'SELECT SLEEP(3)' >/dev/null 2>&1 & pids+=($!); done
    sleep 1.5
    t "${APP[@]}" -e 'SELECT 1' >/dev/null 2>&1
    wait "${pids[@]}" || true
    "${APP[@]}" -e 'SELECT SLEEP(2)' >/dev/null 2>&1 &
    local CLIENT=$!
    sleep 0.5
    kill -KILL "$CLIENT" 2>/dev/null || true
    wait "$CLIENT" 2>/dev/null || true
    sleep 2
    "${ROOT[@]}" -e "FLUSH LOGS; SET GLOBAL innodb_buffer_pool_size = 32*1024*1024;" >/dev/null 2>&1 || true
    sleep 1
    # a second server on the same port/datadir
    T=10 t mariadbd --no-defaults --user=mysql --datadir="$D/data" --socket="$D/other.sock" --port="$MARIADB_PORT" \
        --bind-address=127.0.0.1 --pid-file="$D/other.pid" --log-error="$D/error.log" --innodb-buffer-pool-size=16M \
        --lc-messages-dir=/usr/share/mariadb >/dev/null 2>&1
    mariadb-admin --no-defaults -S "$D/mysql.sock" -uroot shutdown
    wait "$MD" 2>/dev/null || true
    # restart, write to a MyISAM table and kill the server hard (crash recovery, a table that
    # was not closed properly), restart again, read the table, stop with SIGTERM
    "${M[@]}" >>"$D/mariadbd.out" 2>&1 &
    track $!
    MD=$!
    wait_port "$MARIADB_PORT" 40
    t "${APP[@]}" -e "INSERT INTO legacy VALUES (3,'c'); INSERT INTO item VALUES (2,'b')" >/dev/null 2>&1
    kill -KILL "$MD"; wait "$MD" 2>/dev/null || true
    "${M[@]}" --myisam-recover-options=BACKUP >>"$D/mariadbd.out" 2>&1 &
    track $!
    MD=$!
    wait_port "$MARIADB_PORT" 40
    t "${APP[@]}" -e "SELECT * FROM legacy" >/dev/null 2>&1
    sleep 0.5
    kill -TERM "$MD"; wait "$MD" 2>/dev/null || true
    rm -rf "$D/data"      # the throw-away data directory (~110 MB); the logs stay
}

sec_vsftpd() {
    local D=$RAW/vsftpd; mkdir -p "$D/empty" "$D/anon/pub"; chmod 755 "$D" "$D/empty" "$D/anon" "$D/anon/pub"
    echo "public file" >"$D/anon/pub/readme.txt"; chmod 644 "$D/anon/pub/readme.txt"
    cat >"$D/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$FTP_PORT
background=NO
anonymous_enable=YES
anon_root=$D/anon
no_anon_password=NO
local_enable=YES
write_enable=YES
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=$D/empty
vsftpd_log_file=$D/vsftpd.log
xferlog_enable=YES
xferlog_std_format=NO
dual_log_enable=NO
syslog_enable=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$FTP_PASV_MIN
pasv_max_port=$FTP_PASV_MAX
connect_from_port_20=NO
pam_service_name=vsftpd
max_login_fails=2
delay_failed_login=1
idle_session_timeout=10
EOF
    vsftpd "$D/vsftpd.conf" >"$D/vsftpd.out" 2>&1 &
    track $!
    local FT=$!
    wait_port "$FTP_PORT"
    local U=ftp://127.0.0.1:$FTP_PORT C=(curl -s -o /dev/null --max-time 8)
    echo "upload" >"$D/up.txt"
    t "${C[@]}" "$U/pub/readme.txt"
    t "${C[@]}" "$U/pub/missing.txt"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" "$U/"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" -T "$D/up.txt" "$U/up.txt"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" "$U/up.txt"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" -Q 'MKD newdir' -Q 'RMD newdir' -Q 'RNFR up.txt' -Q 'RNTO moved.txt' -Q 'DELE moved.txt' "$U/"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" -T "$D/up.txt" "$U/no-such-dir/up.txt"
    t "${C[@]}" -u "$TEST_USER:$USER_PW" "$U/no-such-file.txt"
    t "${C[@]}" -T "$D/up.txt" "$U/pub/anon-upload.txt"
    t "${C[@]}" -u "$TEST_USER:wrong-password" "$U/"
    t "${C[@]}" -u "nosuchuser:wrong-password" "$U/"
    t "${C[@]}" -u "root:wrong-password" "$U/"
    # a download of a missing file and an upload into a missing folder (curl gives up before
    # RETR/STOR, so speak FTP by hand; PASV is enough for vsftpd to try the file)
    { printf 'USER %s\r\n' "$TEST_USER"; sleep 0.3; printf 'PASS %s\r\n' "$USER_PW"; sleep 1.5
      printf 'PASV\r\nRETR no-such-file.txt\r\n'; sleep 0.5
      printf 'PASV\r\nSTOR no-such-dir/up.txt\r\n'; sleep 0.5; printf 'QUIT\r\n'; sleep 0.3; } |
        T=8 t nc 127.0.0.1 "$FTP_PORT" >/dev/null
    T=4 t nc -z 127.0.0.1 "$FTP_PORT"
    kill -TERM "$FT"; wait "$FT" 2>/dev/null || true
}

sec_dnsmasq() {
    local D=$RAW/dnsmasq; mkdir -p "$D"
    printf '127.0.0.10 web.lan web\n127.0.0.11 db.lan db\n' >"$D/hosts"
    local DM=(dnsmasq --keep-in-foreground --conf-file=/dev/null --port="$DNS_PORT" --listen-address=127.0.0.1
              --bind-interfaces --no-resolv --no-hosts --addn-hosts="$D/hosts" --server="127.0.0.1#$DNS_DEAD_PORT"
              --address=/blocked.test/ --domain-needed --bogus-priv --local=/lan/ --cache-size=100
              --log-queries --log-facility="$D/dnsmasq.log" --pid-file="$RAW/run/dnsmasq.pidfile" --user=root)
    "${DM[@]}" >"$D/dnsmasq.out" 2>&1 &
    track $!
    local DQ=$!
    wait_port "$DNS_PORT"
    local Q=(dig +tries=1 +time=1 -p "$DNS_PORT" @127.0.0.1)
    t "${Q[@]}" web.lan >/dev/null
    t "${Q[@]}" web.lan >/dev/null
    t "${Q[@]}" missing.lan >/dev/null
    t "${Q[@]}" blocked.test >/dev/null
    t "${Q[@]}" -x 127.0.0.10 >/dev/null
    t "${Q[@]}" -x 10.1.2.3 >/dev/null
    t "${Q[@]}" example.org >/dev/null
    t "${Q[@]}" MX web.lan >/dev/null
    t "${Q[@]}" singlelabel >/dev/null
    t "${Q[@]}" +tcp web.lan >/dev/null
    kill -HUP "$DQ"; sleep 0.5
    kill -USR1 "$DQ"; sleep 0.5
    # a clash on the port
    T=4 t dnsmasq --keep-in-foreground --conf-file=/dev/null --port="$DNS_PORT" --listen-address=127.0.0.1 \
        --bind-interfaces --no-resolv --log-facility="$D/dnsmasq-clash.log" --pid-file="$D/clash.pid" --user=root \
        >>"$D/dnsmasq-clash.log" 2>&1
    kill -TERM "$DQ"; wait "$DQ" 2>/dev/null || true
}

sec_cron() {
    # Debian cron in the foreground (-f), logging starts, ends, failures and pids (-L 15); a job
    # file that fires every minute, one with a syntax error, one with unsafe permissions, and a
    # per-user crontab. Ends after the first minute's jobs have run (at most ~75 s).
    local D=$RAW/cron; mkdir -p "$D"
    cat >/etc/cron.d/logclass-collect <<EOF
* * * * * root echo "collect output"
* * * * * root /nonexistent/logclass-job.sh
* * * * * root exit 3
* * * * * $TEST_USER true
EOF
    chmod 644 /etc/cron.d/logclass-collect
    printf 'this line is not a crontab entry\n' >/etc/cron.d/logclass-bad; chmod 644 /etc/cron.d/logclass-bad
    printf '* * * * * root true\n' >/etc/cron.d/logclass-insecure; chmod 666 /etc/cron.d/logclass-insecure
    printf '* * * * * date >/dev/null\n' >"$D/user.crontab"
    crontab -u "$TEST_USER" "$D/user.crontab"
    crontab -u "$TEST_USER" -l >/dev/null
    /usr/sbin/cron -f -L 15 >"$D/cron.out" 2>&1 &
    track $!
    local CR=$! start=$SECONDS
    # wait until the jobs of one minute have run and ended (or give up after 75 s)
    while ((SECONDS - start < 75)); do
        if grep -q 'failed with exit status 3' "$RAW/syslog/syslog.log" 2>/dev/null && ((SECONDS - start > 5)); then
            break
        fi
        sleep 1
    done
    sleep 1
    crontab -r -u "$TEST_USER"
    rm -f /etc/cron.d/logclass-collect /etc/cron.d/logclass-bad /etc/cron.d/logclass-insecure
    kill -TERM "$CR"; wait "$CR" 2>/dev/null || true
}

# ---------------------------------------------------------------- run all sections
declare -A JOBS=()
for s in "${SECTIONS[@]}"; do
    want "$s" || continue
    ( set -euo pipefail; sec_"$s" ) >"$RAW/driver/$s.log" 2>&1 &
    JOBS[$s]=$!
    track $!
    say "started section $s (pid $!)"
done
FAILED=()
for s in "${!JOBS[@]}"; do
    if wait "${JOBS[$s]}"; then say "section $s done"; else say "section $s FAILED (see $RAW/driver/$s.log)"; FAILED+=("$s"); fi
done
userdel -r "$TEST_USER" >/dev/null 2>&1 || true
sleep 0.5
touch "$RAW/run/stop-syslog"; sleep 0.7

# ---------------------------------------------------------------- build the data set
say "building the data set"
cd "$REPO"
OUT=${LOGCLASS_OUT:-$HERE/real_logs.csv}
[[ -z $PARTIAL || -n ${LOGCLASS_OUT:-} ]] || OUT=$RAW/real_logs.csv
"$PYTHON" "$HERE/build_dataset.py" --raw "$RAW" --labels "$HERE/labels.yaml" --out "$OUT"
[[ ${#FAILED[@]} -eq 0 ]] || say "sections that failed: ${FAILED[*]}"
say "raw logs kept in $RAW"
