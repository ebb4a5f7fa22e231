# Sourced by the comparison scripts: a private Samba smbd (own config, state and passdb under $SAMBA_DIR,
# loopback only, a port of its own), started and stopped by the caller.
#   samba_start DIR PORT SHARE_PATH USER PASSWORD ENCRYPT(required|off)  -> sets SAMBA_PID
#   samba_stop
samba_start() {
  SAMBA_DIR=$1; local port=$2 share=$3 user=$4 pass=$5 enc=$6
  mkdir -p "$SAMBA_DIR"/{private,lock,state,cache,pid,log}
  cat >"$SAMBA_DIR/smb.conf" <<CONF
[global]
  server role = standalone server
  smb ports = $port
  interfaces = lo
  bind interfaces only = yes
  passdb backend = tdbsam:$SAMBA_DIR/private/passdb.tdb
  private dir = $SAMBA_DIR/private
  lock directory = $SAMBA_DIR/lock
  state directory = $SAMBA_DIR/state
  cache directory = $SAMBA_DIR/cache
  pid directory = $SAMBA_DIR/pid
  ncalrpc dir = $SAMBA_DIR/state/ncalrpc
  log file = $SAMBA_DIR/log/%m.log
  disable spoolss = yes
  load printers = no
  printing = bsd
  printcap name = /dev/null
  server min protocol = SMB3
  server smb encrypt = $enc
  server smb3 encryption algorithms = AES-128-GCM
  unix password sync = no
  map to guest = never
[data]
  path = $share
  read only = no
  force user = root
CONF
  # Samba maps SMB users onto Unix accounts.
  id -u "$user" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$user"
  printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$SAMBA_DIR/smb.conf" -s -a "$user" >/dev/null
  # smbd puts itself in its own process group: its shutdown signals that group, not the caller.
  smbd -F -s "$SAMBA_DIR/smb.conf" >"$SAMBA_DIR/log/smbd.out" 2>&1 &
  SAMBA_PID=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "private smbd did not start; see $SAMBA_DIR/log" >&2
  return 1
}

samba_stop() {
  [ -n "${SAMBA_PID:-}" ] || return 0
  pkill -TERM -P "$SAMBA_PID" 2>/dev/null || true
  kill -TERM "$SAMBA_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SAMBA_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SAMBA_PID" 2>/dev/null || true
  wait "$SAMBA_PID" 2>/dev/null || true
  SAMBA_PID=
}

# CPU seconds used so far by a process and the children it has reaped (smbd forks one per client).
cpu_seconds() {
  local pid=$1 total=0 p
  for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print t + ($12 + $13 + $14 + $15) / hz }' "/proc/$p/stat")
  done
  echo "$total"
}
