#!/bin/bash
# Runs inside the test VM as root (started by dmsetup-compare-guest.sh): the
# scripted dmsetup/dmstats sequence, on one library, printing the raw
# transcript on stdout. It is not a test by itself: the guest script runs it
# once per column (stock, ours, built), normalises and diffs the transcripts.
#
#   dmsetup-seq.sh DMSETUP LIBDIR|stock WORKDIR
#
# DMSETUP is the dmsetup binary under test (a `dmstats` symlink to it must sit
# in the same directory); LIBDIR is put in LD_LIBRARY_PATH for every dmsetup
# and dmstats command ("stock": no LD_LIBRARY_PATH). WORKDIR is created and
# removed; give every column the same one so that paths print the same.
#
# Transcript format: one line per output line, prefixed by the step id:
#   <id> $ <command as typed>        (the command, $W for WORKDIR)
#   <id> o| <stdout line>
#   <id> e| <stderr line>
#   <id> rc=<exit status>
# plus "<id> ## <text>" lines from neutral observers (ls, stat, python
# ioctls: never libdevmapper). Steps never stop the sequence: a failed
# fixture shows up as differing lines further down.
#
# Every dmsetup/dmstats command runs with DM_DISABLE_UDEV=1 (there is no
# udev in this VM: the library then creates /dev/mapper nodes itself), except
# in the section "noudev", which shows what both libraries do without it
# (dmsetup relies on udev for nodes, so none appear).
set -u
DMSETUP=$1
LIBDIR=$2
W=$3
DMSTATS=$(dirname "$DMSETUP")/dmstats
[ -x "$DMSTATS" ] || { echo "no dmstats next to $DMSETUP" >&2; exit 2; }

# The library under test through LD_LIBRARY_PATH on each command only;
# DM_DISABLE_UDEV is exported (neutral tools ignore it).
unset LD_LIBRARY_PATH LD_PRELOAD
[ "$LIBDIR" = stock ] && LIBDIR=
udev_disabled() { # udev_disabled 1|0: DM_DISABLE_UDEV=1 or unset
    if [ "$1" = 1 ]; then export DM_DISABLE_UDEV=1; else unset DM_DISABLE_UDEV; fi
}
udev_disabled 1
# Every command runs under a guard (DMSETUP_SEQ_GUARD seconds, default 60;
# each takes well under a second): a command that hangs shows as rc=124 in
# the transcript instead of stalling the whole boot.
GUARD=(timeout -k 5 "${DMSETUP_SEQ_GUARD:-60}")
dm() { if [ -n "$LIBDIR" ]; then LD_LIBRARY_PATH=$LIBDIR "${GUARD[@]}" "$DMSETUP" "$@"; else "${GUARD[@]}" "$DMSETUP" "$@"; fi; }
dms() { if [ -n "$LIBDIR" ]; then LD_LIBRARY_PATH=$LIBDIR "${GUARD[@]}" "$DMSTATS" "$@"; else "${GUARD[@]}" "$DMSTATS" "$@"; fi; }
# dmw: the same, for the commands that wait for a kernel event (`wait`).
dmw() { dm "$@"; }
# Neutral helpers never load the library under test (guarded too: I/O on a
# device a failing library left suspended would block).
neutral() { env -u LD_PRELOAD -u LD_LIBRARY_PATH "${GUARD[@]}" "$@"; }

rm -rf "$W"
mkdir -p "$W"
cd "$W" || exit 2

# The helpers below use shell builtins only: every fork costs under TCG.
# show ARGS...: set SHOWN to the command line as typed, WORKDIR shown as $W.
show() { SHOWN="$*"; SHOWN=${SHOWN//$W/\$W}; }
# prefix ID TAG FILE: print FILE's lines as "ID TAG| line".
prefix() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do printf '%s %s| %s\n' "$1" "$2" "$line"; done <"$3"
}
# Seconds per step go to $DMSETUP_SEQ_TIMES when set (not the transcript).
TIMES=${DMSETUP_SEQ_TIMES:-/dev/null}
: >"$TIMES"
timed() { # timed ID CMD...: run, and log the step's duration
    local id=$1 t0=${EPOCHREALTIME/./} rc t; shift
    "$@"; rc=$?
    t=$(( ${EPOCHREALTIME/./} - t0 ))
    printf '%d.%06d %s\n' $((t / 1000000)) $((t % 1000000)) "$id" >>"$TIMES"
    return $rc
}
# s ID CMD...: run a step with stdin from /dev/null.
s() {
    local id=$1 rc; shift
    show "$@"; printf '%s $ %s\n' "$id" "$SHOWN"
    timed "$id" "$@" >"$W/.o" 2>"$W/.e" </dev/null
    rc=$?
    prefix "$id" o "$W/.o"
    prefix "$id" e "$W/.e"
    echo "$id rc=$rc"
}
# si ID INPUT CMD...: a step reading INPUT on stdin.
si() {
    local id=$1 input=$2 rc; shift 2
    show "$@"; printf '%s $ %s' "$id" "$SHOWN"
    show "$input"; printf ' <<< %s\n' "$SHOWN"
    printf '%s\n' "$input" >"$W/.i"
    timed "$id" "$@" <"$W/.i" >"$W/.o" 2>"$W/.e"
    rc=$?
    prefix "$id" o "$W/.o"
    prefix "$id" e "$W/.e"
    echo "$id rc=$rc"
}
# note ID TEXT: an observation by a neutral tool.
note() { local id=$1; shift; show "$*"; printf '%s ## %s\n' "$id" "$SHOWN"; }
nodes() { # nodes ID: what /dev/mapper holds (name, type, mode, owner)
    local f
    for f in /dev/mapper/*; do
        [ "$f" = /dev/mapper/control ] && continue
        [ -e "$f" ] || [ -L "$f" ] || continue
        note "$1" "node $(stat -c '%n %F %a %u:%g %t:%T' "$f")"
    done
    note "$1" "nodes listed"
}
node() { # node ID NAME: is /dev/mapper/NAME a block device?
    if [ -b "/dev/mapper/$2" ]; then note "$1" "/dev/mapper/$2 present"; else note "$1" "/dev/mapper/$2 absent"; fi
}
geometry() { # geometry ID DEV: HDIO_GETGEO as the kernel reports it
    note "$1" "geometry $(neutral /usr/bin/python3 -c '
import fcntl, struct, sys
with open(sys.argv[1], "rb") as f:
    h, s, c, st = struct.unpack("BBHL", fcntl.ioctl(f, 0x0301, bytes(16)))
print("heads=%d sectors=%d cylinders=%d start=%d" % (h, s, c, st))' "$2" 2>&1)"
}
until_status() { # until_status DEV REGEX: poll (not recorded) until status matches
    local i
    for i in $(seq 1 200); do
        dm status "$1" 2>/dev/null | grep -Eq "$2" && return 0
        sleep 0.05
    done
    return 1
}
# until_gone NAME: poll (not recorded) until no dm device is called NAME.
# After the last close of a device marked for deferred removal the kernel
# removes it from a workqueue, not before close() returns. Reads sysfs (no
# library under test involved).
until_gone() {
    local i f n
    for i in $(seq 1 400); do
        n=
        for f in /sys/block/dm-*/dm/name; do
            [ -r "$f" ] && [ "$(<"$f")" = "$1" ] && { n=1; break; }
        done
        [ -z "$n" ] && return 0
        sleep 0.05
    done
    return 1
}

DMMAJ=$(awk '$2 == "device-mapper" { print $1 }' /proc/devices)
# One sparse 512 MiB file on a loop device, carved into linear devices.
truncate -s 512M "$W/disk.img"
L=$(neutral losetup -f --show "$W/disk.img") || { echo "losetup failed" >&2; exit 2; }
MiB=2048   # sectors
# lin NAME OFFSET_MIB SIZE_MIB: a linear table line on the loop device
lin() { echo "0 $(($3 * MiB)) linear $L $(($2 * MiB))"; }

echo "== basics"
s version dm version
s version-opt dm --version
s targets dm targets
s target-version dm target-version linear striped zero error
s target-version-missing dm target-version no-such-target
s help dm help
s help-c dm help -c
s help-h dm -h
s unknown-cmd dm no-such-command
s ls-empty dm ls
s info-empty dm info
s info-c-empty dm info -c
s table-empty dm table
s status-empty dm status
s deps-empty dm deps
s info-missing dm info dmt-missing
s udevcookies-empty dm udevcookies
s stats-version dms version
s stats-help dms help
s stats-list-empty dms list

echo "== create"
s create-table dm create dmt-a --table "$(lin a 0 8)"
node create-table dmt-a
si create-stdin "$(lin b 8 8)" dm create dmt-b
lin c 16 8 >"$W/table.c"
s create-file dm create dmt-c "$W/table.c"
s create-uuid dm create dmt-u --uuid DMT-UUID-u --table "$(lin u 24 4)"
s create-u dm create dmt-u2 -u DMT-UUID-u2 --table "$(lin u2 28 4)"
s create-ro dm create dmt-ro --readonly --table "$(lin ro 32 4)"
s create-ro-r dm create dmt-ro2 -r --table "$(lin ro2 36 4)"
s create-notable dm create dmt-nt --notable
node create-notable dmt-nt
s create-n dm create dmt-nt2 -n
s create-notable-oncreate dm create dmt-nt3 --notable --addnodeoncreate
node create-notable-oncreate dmt-nt3
s create-notable-onresume dm create dmt-nt4 --notable --addnodeonresume
node create-notable-onresume dmt-nt4
s create-mode dm create dmt-mode -U 1 -G 6 -M 0640 --table "$(lin mode 40 4)"
nodes create-mode
s create-minor dm create dmt-minor -j "$DMMAJ" -m 200 --table "$(lin minor 44 4)"
s create-minor-busy dm create dmt-minor2 --major "$DMMAJ" --minor 200 --table "$(lin minor 44 4)"
s create-readahead dm create dmt-ra --readahead 512 --table "$(lin ra 48 4)"
s create-readahead-plus dm create dmt-ra2 --readahead +1024 --table "$(lin ra 52 4)"
s create-readahead-none dm create dmt-ra3 --readahead none --table "$(lin ra 56 4)"
s create-readahead-bad dm create dmt-ra4 --readahead bogus --table "$(lin ra 56 4)"
s create-dup dm create dmt-a --table "$(lin a 0 8)"
s create-bad-table dm create dmt-bad --table "0 100 linear /dev/no-such-device 0"
s create-bad-target dm create dmt-bad --table "0 100 no-such-target"
s create-bad-syntax dm create dmt-bad --table "0 x linear"
s create-bad-left dm info dmt-bad
si create-multiline "$(printf '0 2048 linear %s %s\n2048 2048 zero\n4096 2048 error' "$L" $((60 * MiB)))" dm create dmt-multi
s create-concise dm create --concise "dmt-k1,DMT-K1,,ro,0 2048 linear $L $((62 * MiB)),2048 2048 zero;dmt-k2,,,,0 8 error"
s create-concise-bad dm create --concise "dmt-k3,,,xx,0 8 error"
s create-noname dm create
s create-toolong dm create "dmt-$(printf '%0200d' 0)" --table "0 8 zero"
s create-badchar dm create "dmt/slash" --table "0 8 zero"
nodes create-all

echo "== info and reports"
s info dm info dmt-a
s info-all dm info
s info-v dm info -v dmt-u
s info-uuid dm info -u DMT-UUID-u
s info-majmin dm info -j "$DMMAJ" -m 200
s info-path dm info /dev/mapper/dmt-a
s info-c dm info -c
s info-C dm info -C dmt-a
s info-columns dm info --columns dmt-a
FIELDS_NAME=name,mangled_name,unmangled_name,uuid,mangled_uuid,unmangled_uuid,read_ahead
FIELDS_INFO=blkdevname,attr,tables_loaded,suspended,readonly,devno,major,minor,open,segments,events
FIELDS_DEPS=device_count,devs_used,devnos_used,blkdevs_used,device_ref_count,names_using_dev,devnos_using_dev
FIELDS_SPLIT=subsystem,vg_name,lv_name,lv_layer
s info-o-name dm info -c -o $FIELDS_NAME
s info-o-info dm info -c -o name,$FIELDS_INFO
s info-o-info-live dm info -c -o name,$FIELDS_INFO dmt-a dmt-ro dmt-k1
s info-o-deps dm info -c -o name,$FIELDS_DEPS
s info-o-split dm info -c -o name,$FIELDS_SPLIT
s info-o-name_all dm info -c -o name_all
s info-o-info_all dm info -c -o info_all
s info-o-deps_all dm info -c -o deps_all
s info-o-splitname_all dm info -c -o splitname_all
s info-o-selected dm info -c -o name,selected -S 'name=~"^dmt-r"'
s info-o-plus dm info -c -o +uuid,devno dmt-a dmt-u
s info-o-help dm info -c -o help
s info-o-qmark dm info -c -o '?'
s info-o-bad dm info -c -o name,no_such_field
s info-o-stats dm info -c -o name,read_count
s info-noheadings dm info -c --noheadings -o name,attr,uuid
s info-separator dm info -c --separator : -o name,attr,open,uuid
s info-separator-long dm info -c --separator ' <> ' -o name,attr
s info-nameprefixes dm info -c --nameprefixes -o name,attr,uuid,devno
s info-nameprefixes-unquoted dm info -c --nameprefixes --unquoted -o name,uuid
s info-rows dm info -c --rows -o name,attr,open,segments
s info-rows-noheadings dm info -c --rows --noheadings -o name,uuid
s info-unbuffered dm info -c --unbuffered -o name,attr
s info-reportformat dm info -c --reportformat json -o name
s info-sort-asc dm info -c -o name,segments,read_ahead -O name
s info-sort-desc dm info -c -o name,segments,read_ahead -O -name
s info-sort-multi dm info -c -o name,segments,read_ahead,minor -O -segments,+name
s info-sort-size dm info -c -o name,read_ahead -O read_ahead,name
s info-sort-bad dm info -c -o name -O no_such_field
s sel-eq dm info -c -o name,attr -S name=dmt-a
s sel-ne dm info -c -o name -S 'name!=dmt-a'
s sel-regex dm info -c -o name -S 'name=~"^dmt-(a|b|c)$"'
s sel-notregex dm info -c -o name -S 'name!~"^dmt-[a-m]"'
s sel-num dm info -c -o name,segments -S 'segments>1'
s sel-num-ge dm info -c -o name,open -S 'open>=0 && segments=1'
s sel-and dm info -c -o name,attr -S 'readonly=readonly && segments=1'
s sel-or dm info -c -o name -S 'name=dmt-a || name=dmt-b || uuid=DMT-UUID-u'
s sel-not dm info -c -o name,tables_loaded -S '!(tables_loaded=Live)'
s sel-parens dm info -c -o name -S '(name=dmt-a || name=dmt-c) && !(segments>1)'
s sel-size dm info -c -o name,read_ahead -S 'read_ahead>128k'
s sel-size-units dm info -c -o name,read_ahead -S 'read_ahead=256s || read_ahead<=0.25m'
s sel-list-all dm info -c -o name,names_using_dev -S 'names_using_dev=[dmt-x]'
s sel-list-any dm info -c -o name,tables_loaded -S 'tables_loaded={Live}'
s sel-bool dm info -c -o name,suspended -S 'suspended=0'
s sel-uuid-empty dm info -c -o name,uuid -S 'uuid=""'
s sel-nothing dm info -c -o name -S 'name=nothing-matches'
s sel-invalid dm info -c -o name -S 'name=~'
s sel-invalid-op dm info -c -o name -S 'segments=>1'
s sel-invalid-field dm info -c -o name -S 'no_such_field=1'
s sel-invalid-paren dm info -c -o name -S '(name=dmt-a'
s sel-invalid-num dm info -c -o name -S 'segments=abc'
s sel-on-ls dm ls -S 'name=~"dmt-k"'

echo "== ls, deps, table, status, splitname"
s ls dm ls
s ls-target dm ls --target zero
s ls-target-none dm ls --target crypt
s ls-exec dm ls --exec echo
s ls-exec-target dm ls --exec 'echo node:' --target error
s ls-o-devno dm ls -o devno
s ls-o-devname dm ls -o devname
s ls-o-blkdevname dm ls -o blkdevname
s ls-o-bad dm ls -o nonsense
s deps dm deps
s deps-one dm deps dmt-multi
s deps-devname dm deps -o devname dmt-a
s deps-blkdevname dm deps -o blkdevname dmt-a
s deps-devno dm deps -o devno dmt-a
s table dm table
s table-one dm table dmt-multi
s table-target dm table --target zero
s table-concise dm table --concise
s table-concise-one dm table --concise dmt-k1
s status dm status
s status-target dm status --target linear
s status-noflush dm status --noflush dmt-a
s splitname dm splitname vg-lv
s splitname-layer dm splitname vg--with--dashes-lv-_layer
s splitname-lvm dm splitname vg-lv LVM
s splitname-other dm splitname vg-lv FOO
s splitname-c dm splitname -c -o vg_name,lv_name,lv_layer,subsystem a-b-c
s splitname-nameprefixes dm splitname --nameprefixes --noheadings vg-lv-x
s splitname-none dm splitname

echo "== load, clear, suspend, resume, wipe_table"
s load dm load dmt-a --table "$(lin a 64 16)"
s load-info dm info dmt-a
s load-attr dm info -c -o name,attr,tables_loaded -S name=dmt-a
s table-inactive dm table --inactive dmt-a
s status-inactive dm status --inactive dmt-a
s deps-inactive dm deps --inactive dmt-a
s clear dm clear dmt-a
s clear-info dm info -c -o name,attr,tables_loaded dmt-a
s clear-again dm clear dmt-a
lin a 64 16 >"$W/table.a2"
s reload-file dm reload dmt-a "$W/table.a2"
si reload-stdin "$(lin a 64 24)" dm reload dmt-a
s suspend dm suspend dmt-a
s suspend-info dm info -c -o name,attr,suspended,tables_loaded dmt-a
s suspend-again dm suspend dmt-a
s resume dm resume dmt-a
s resume-info dm info -c -o name,attr,segments dmt-a
s resume-table dm table dmt-a
s suspend-nolockfs dm suspend --nolockfs dmt-a
s resume-after-nolockfs dm resume dmt-a
s suspend-noflush dm suspend --noflush --nolockfs dmt-a
s resume-noflush dm resume --noflush dmt-a
s suspend-multi dm suspend dmt-b dmt-c
s suspend-multi-info dm info -c -o name,suspended -S 'name=~"^dmt-[bc]$"'
s resume-multi dm resume dmt-b dmt-c
s load-nt dm load dmt-nt --table "$(lin nt 88 4)"
s resume-nt-readahead dm resume dmt-nt --readahead 1024
node resume-nt dmt-nt
s load-nt3 dm load dmt-nt3 --table "$(lin nt3 92 4)"
s resume-nt3 dm resume dmt-nt3 --addnodeoncreate
s load-nt4 dm load dmt-nt4 --table "$(lin nt4 96 4)"
s resume-nt4 dm resume dmt-nt4 --addnodeonresume
nodes resume-nt-all
s info-readahead dm info -c -o name,read_ahead -S 'name=~"^dmt-(nt|ra)"'
s resume-notable dm resume dmt-nt2
s wipe-table dm wipe_table dmt-c
s wipe-table-after dm table dmt-c
s wipe-table-force dm wipe_table --force --noflush --nolockfs dmt-c
s load-missing dm load dmt-missing --table "0 8 zero"
s suspend-missing dm suspend dmt-missing
s load-bad dm load dmt-b --table "0 8 no-such-target"
s load-bad-after dm info -c -o name,attr,tables_loaded dmt-b

echo "== rename and names"
s rename dm rename dmt-b dmt-b2
node rename-old dmt-b
node rename-new dmt-b2
s rename-setuuid dm rename dmt-b2 --setuuid DMT-SETUUID-b2
s rename-setuuid-info dm info -c -o name,uuid dmt-b2
s rename-setuuid-again dm rename dmt-b2 --setuuid DMT-OTHER
s rename-uuid-device dm rename -u DMT-SETUUID-b2 dmt-b3
s rename-to-existing dm rename dmt-b3 dmt-a
s rename-missing dm rename dmt-missing dmt-x
s rename-badchar dm rename dmt-b3 dmt/b
s create-space dm create 'dmt-sp ace' --table "0 8 zero"
s create-hex dm create --manglename hex 'dmt-hex#1' --table "0 8 zero"
s create-none dm create --manglename none 'dmt-raw space' --table "0 8 zero"
nodes names
s names-report dm info -c -o name,mangled_name,unmangled_name -S 'name=~"^dmt-(sp|hex|raw)"'
s names-report-hex dm info -c --manglename hex -o name,mangled_name,unmangled_name -S 'name=~"^dmt-(sp|hex|raw)"'
s names-report-mangled dm info -c -o name,mangled_name,unmangled_name 'dmt-sp\x20ace' 'dmt-hex#1'
s names-report-none dm info -c --manglename none -o name,mangled_name,unmangled_name -S 'name=~"^dmt-(sp|hex|raw)"'
s names-ls dm ls --manglename none
s mangle dm mangle --manglename auto
s mangle-hex dm mangle --manglename hex 'dmt-sp\x20ace'
s mangle-none dm mangle --manglename none
nodes names-after
s names-ls-after dm ls
s rename-space dm rename 'dmt-sp ace' 'dmt-sp ace2'
s names-info-none dm info --manglename none -c -o name,mangled_name 'dmt-sp ace'
s mangle-back dm mangle --manglename auto 'dmt-sp ace' 'dmt-raw space'
nodes names-back
s names-remove dm remove 'dmt-sp\x20ace' 'dmt-raw\x20space' 'dmt-hex#1'
s mangle-bad dm info --manglename bogus dmt-a
nodes names-end

echo "== mknodes"
rm -f /dev/mapper/dmt-a
node mknodes-before dmt-a
s mknodes-one dm mknodes dmt-a
node mknodes-one-after dmt-a
rm -f /dev/mapper/dmt-c /dev/mapper/dmt-u
mknod /dev/mapper/dmt-stale b "$DMMAJ" 250
s mknodes-all dm mknodes
nodes mknodes-all-after

echo "== udev cookies (no udev running)"
s udevcreatecookie dm udevcreatecookie
COOKIE=$(dm udevcreatecookie 2>/dev/null)
note udevcookie "cookie ${COOKIE:+printed}"
# A cookie is FLAGS << 16 | base: flags only, a base only, every flag.
s udevflags dm udevflags 0x00210000
s udevflags-base dm udevflags 0x00001234
s udevflags-all dm udevflags 0xffff0000
s udevflags-subsys dm udevflags 0x8d00abcd
s udevflags-dec dm udevflags 2162688
s udevflags-bad dm udevflags nonsense
s udevflags-zero dm udevflags 0
s udevcookies dm udevcookies
s udevcomplete dm udevcomplete 0x0d4d1234
s udevcomplete-flags dm udevcomplete 0x01000000
s udevreleasecookie dm udevreleasecookie ${COOKIE:-0}
s udevcomplete_all dm udevcomplete_all -y
s udevcomplete_all-age dm udevcomplete_all 60 -y
s udevcookie-opt dm info --udevcookie 0x0d4d0001 dmt-a
s noudevrules dm create dmt-nur --noudevrules --table "0 8 zero"
s noudevsync dm remove dmt-nur --noudevsync
s verifyudev dm create dmt-vu --verifyudev --table "0 8 zero"
node verifyudev dmt-vu
s verifyudev-rm dm remove --verifyudev dmt-vu

echo "== udev cookies (udev simulated)"
# /run/udev/control makes libudev, hence libdm, believe udev runs: cookies
# are then real SysV semaphores, and `dmsetup udevcomplete` plays the part
# of the udev rule. Operations join the cookie (--udevcookie) instead of
# waiting, so nothing blocks; nodes are left to "udev" (none appear).
udev_disabled 0
mkdir -p /run/udev
: >/run/udev/control
s fu-createcookie dm udevcreatecookie
FUC=$(cat "$W/.o")
s fu-cookies dm udevcookies
s fu-flags dm udevflags "$FUC"
s fu-create dm create dmt-fu --udevcookie "$FUC" --table "0 8 zero"
node fu-create dmt-fu
s fu-cookies2 dm udevcookies
s fu-complete dm udevcomplete "$FUC"
s fu-cookies3 dm udevcookies
s fu-release dmw udevreleasecookie "$FUC"
s fu-cookies4 dm udevcookies
export DM_UDEV_COOKIE
s fu-createcookie2 dm udevcreatecookie
DM_UDEV_COOKIE=$(cat "$W/.o")
s fu-vvv-rename dm -vvv rename dmt-fu dmt-fu2
s fu-vvv-remove dm -vvv remove dmt-fu2
s fu-cookies5 dm udevcookies
s fu-complete2 dm udevcomplete "$DM_UDEV_COOKIE"
s fu-complete3 dm udevcomplete "$DM_UDEV_COOKIE"
s fu-release2 dmw udevreleasecookie
unset DM_UDEV_COOKIE
s fu-createcookie3 dm udevcreatecookie
s fu-complete_all dm udevcomplete_all -y
s fu-cookies6 dm udevcookies
s fu-noudevsync dm create dmt-fu3 --noudevsync --table "0 8 zero"
node fu-noudevsync dmt-fu3
s fu-noudevsync-rm dm remove --noudevsync dmt-fu3
s fu-cookies7 dm udevcookies
rm -f /run/udev/control
udev_disabled 1

echo "== message, wait, setgeometry, measure"
s message-missing dm message dmt-missing 0 hello
s message-linear dm message dmt-a 0 hello
s stats-msg-list dm message dmt-a 0 @stats_list
s stats-msg-create dm message dmt-a 0 @stats_create - /2 msgtest
s stats-msg-list2 dm message dmt-a 0 @stats_list msgtest
s stats-msg-print dm message dmt-a 0 @stats_print 0
s stats-msg-delete dm message dmt-a 0 @stats_delete 0
s stats-msg-bad dm message dmt-a 0 @stats_delete 99
s cancel-deferred dm message dmt-a 0 @cancel_deferred_remove
s setgeometry dm setgeometry dmt-a 100 2 4 0
geometry setgeometry /dev/mapper/dmt-a
s setgeometry-bad dm setgeometry dmt-a x 2 4 0
s setgeometry-args dm setgeometry dmt-a 1
s measure dm measure dmt-a
s measure-all dm measure
s wait-noevent dm wait dmt-a 1
s wait-noflush dm wait --noflush dmt-a 5
s wait-missing dm wait dmt-missing 0
s info-events dm info -c -o name,events dmt-a

echo "== verbose"
s verbose-info dm -v info dmt-a
s vvv-info dm -vvv info dmt-a
s vvv-create dm -vvv create dmt-dbg --table "0 8 zero"
s vvv-table dm -vvv table dmt-dbg
s vvv-remove dm -vvv remove dmt-dbg
s vvv-version dm -vvv version
s checks dm --checks info dmt-a
s noopencount dm info --noopencount -c -o name,open dmt-a

echo "== targets"
s t-zero dm create dmt-zero --table "0 65536 zero"
s t-error dm create dmt-error --table "0 2048 error"
s t-striped dm create dmt-striped --table "0 16384 striped 2 64 $L $((128 * MiB)) $L $((136 * MiB))"
s t-striped-status dm status dmt-striped
# crypt: a fixed 256-bit key, hidden unless --showkeys
KEY=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
s t-crypt dm create dmt-crypt --table "0 8192 crypt aes-xts-plain64 $KEY 0 $L $((144 * MiB))"
s t-crypt-table dm table dmt-crypt
s t-crypt-showkeys dm table --showkeys dmt-crypt
s t-crypt-status dm status dmt-crypt
s t-crypt-load dm load dmt-crypt --table "0 8192 crypt aes-cbc-essiv:sha256 $KEY 0 $L $((144 * MiB)) 1 allow_discards"
s t-crypt-inactive dm table --inactive dmt-crypt
s t-crypt-inactive-keys dm table --inactive --showkeys dmt-crypt
s t-crypt-clear dm clear dmt-crypt
s t-crypt-key-wipe dm message dmt-crypt 0 key wipe
s t-crypt-suspend dm suspend dmt-crypt
s t-crypt-key-wipe2 dm message dmt-crypt 0 key wipe
s t-crypt-key-set dm message dmt-crypt 0 key set $KEY
s t-crypt-resume dm resume dmt-crypt
s t-crypt-target dm table --target crypt --showkeys
s t-flakey dm create dmt-flakey --table "0 8192 flakey $L $((148 * MiB)) 2 3 1 drop_writes"
s t-flakey-status dm status dmt-flakey
s t-delay dm create dmt-delay --table "0 8192 delay $L $((152 * MiB)) 10 $L $((156 * MiB)) 20"
s t-delay-status dm status dmt-delay
# snapshot: origin, snapshot, then merge back
s t-snap-real dm create dmt-orig-real --table "$(lin r 160 8)"
s t-snap-cow dm create dmt-cow --table "$(lin c 168 8)"
s t-snap-origin dm create dmt-origin --table "0 $((8 * MiB)) snapshot-origin /dev/mapper/dmt-orig-real"
s t-snap dm create dmt-snap --table "0 $((8 * MiB)) snapshot /dev/mapper/dmt-orig-real /dev/mapper/dmt-cow P 8"
neutral dd if=/dev/zero of=/dev/mapper/dmt-snap bs=4096 count=4 oflag=direct status=none
s t-snap-status dm status dmt-snap dmt-origin
s t-snap-deps dm deps -o devname dmt-snap
s t-snap-tree dm ls --tree -o ascii
s t-snap-remove dm remove dmt-snap
s t-snap-merge-load dm load dmt-origin --table "0 $((8 * MiB)) snapshot-merge /dev/mapper/dmt-orig-real /dev/mapper/dmt-cow P 8"
s t-snap-merge-suspend dm suspend dmt-origin
s t-snap-merge-resume dm resume dmt-origin
until_status dmt-origin '^0 [0-9]+ snapshot-merge ([0-9]+)/[0-9]+ \1$' || note t-snap-merge "merge did not finish"
s t-snap-merge-status dm status dmt-origin
s t-snap-merge-done dm remove dmt-origin dmt-cow dmt-orig-real
# thin pool and thin volumes (fresh file: metadata is zero)
s t-tmeta dm create dmt-tmeta --table "$(lin m 176 4)"
s t-tdata dm create dmt-tdata --table "$(lin d 180 32)"
s t-pool dm create dmt-pool --table "0 $((32 * MiB)) thin-pool /dev/mapper/dmt-tmeta /dev/mapper/dmt-tdata 128 0 1 skip_block_zeroing"
s t-pool-status dm status dmt-pool
s t-pool-msg-create dm message dmt-pool 0 create_thin 0
s t-pool-msg-dup dm message dmt-pool 0 create_thin 0
s t-thin dm create dmt-thin --table "0 $((16 * MiB)) thin /dev/mapper/dmt-pool 0"
neutral dd if=/dev/zero of=/dev/mapper/dmt-thin bs=64k count=2 oflag=direct status=none
s t-thin-status dm status dmt-thin
s t-pool-msg-snap-suspend dm suspend dmt-thin
s t-pool-msg-snap dm message dmt-pool 0 create_snap 1 0
s t-pool-msg-snap-resume dm resume dmt-thin
s t-pool-msg-trans dm message dmt-pool 0 set_transaction_id 0 1
s t-pool-msg-trans-bad dm message dmt-pool 0 set_transaction_id 0 7
s t-pool-msg-reserve dm message dmt-pool 0 reserve_metadata_snap
s t-pool-status2 dm status dmt-pool
s t-pool-msg-release dm message dmt-pool 0 release_metadata_snap
s t-pool-msg-delete dm message dmt-pool 0 delete 1
s t-pool-msg-bad dm message dmt-pool 0 no_such_message
s t-pool-status3 dm status dmt-pool
s t-pool-tree dm ls --tree
s t-pool-deps dm deps -o blkdevname dmt-thin dmt-pool
s t-pool-report dm info -c -o name,device_count,devs_used,device_ref_count,names_using_dev -S 'name=~"^dmt-(t|pool)"'
s t-thin-remove dm remove dmt-thin
s t-pool-remove dm remove dmt-pool dmt-tmeta dmt-tdata
# cache (metadata, cache, origin)
s t-cmeta dm create dmt-cmeta --table "$(lin m 212 4)"
s t-cdata dm create dmt-cdata --table "$(lin d 216 8)"
s t-corig dm create dmt-corig --table "$(lin o 224 16)"
s t-cache dm create dmt-cache --table "0 $((16 * MiB)) cache /dev/mapper/dmt-cmeta /dev/mapper/dmt-cdata /dev/mapper/dmt-corig 128 1 writethrough default 0"
s t-cache-status dm status dmt-cache
s t-cache-table dm table dmt-cache
s t-cache-msg dm message dmt-cache 0 migration_threshold 4096
s t-cache-table2 dm table dmt-cache
s t-cache-remove dm remove dmt-cache dmt-cmeta dmt-cdata dmt-corig
# writecache (ssd mode)
s t-wc-cache dm create dmt-wcc --table "$(lin c 240 8)"
s t-wc-orig dm create dmt-wco --table "$(lin o 248 16)"
s t-wc dm create dmt-wc --table "0 $((16 * MiB)) writecache s /dev/mapper/dmt-wco /dev/mapper/dmt-wcc 4096 0"
s t-wc-status dm status dmt-wc
s t-wc-table dm table dmt-wc
s t-wc-flush dm message dmt-wc 0 flush
s t-wc-remove dm remove dmt-wc dmt-wcc dmt-wco
# mirror and raid1, without initial resync
s t-mir-a dm create dmt-m0 --table "$(lin a 264 8)"
s t-mir-b dm create dmt-m1 --table "$(lin b 272 8)"
s t-mirror dm create dmt-mirror --table "0 $((8 * MiB)) mirror core 2 1024 nosync 2 /dev/mapper/dmt-m0 0 /dev/mapper/dmt-m1 0 1 handle_errors"
s t-mirror-status dm status dmt-mirror
s t-mirror-table dm table dmt-mirror
s t-mirror-remove dm remove dmt-mirror
s t-raid1 dm create dmt-raid1 --table "0 $((8 * MiB)) raid raid1 4 0 region_size 1024 nosync 2 - /dev/mapper/dmt-m0 - /dev/mapper/dmt-m1"
s t-raid1-status dm status dmt-raid1
s t-raid1-table dm table dmt-raid1
s t-raid1-msg dm message dmt-raid1 0 idle
s t-raid1-remove dm remove dmt-raid1 dmt-m0 dmt-m1
# verity over zeroed data, hash tree made by veritysetup (stock library)
s t-vdata dm create dmt-vdata --table "$(lin d 280 4)"
s t-vhash dm create dmt-vhash --table "$(lin h 284 1)"
ROOT=$(neutral veritysetup format --no-superblock --salt 00 /dev/mapper/dmt-vdata /dev/mapper/dmt-vhash 2>/dev/null | awk '/^Root hash:/ { print $3 }')
note t-verity "root hash ${ROOT:-missing}"
s t-verity dm create dmt-verity --readonly --table "0 $((4 * MiB)) verity 1 /dev/mapper/dmt-vdata /dev/mapper/dmt-vhash 4096 4096 1024 0 sha256 ${ROOT:-0} 00"
neutral dd if=/dev/mapper/dmt-verity of=/dev/null bs=1M status=none
s t-verity-status dm status dmt-verity
s t-verity-table dm table dmt-verity
s t-verity-remove dm remove dmt-verity dmt-vdata dmt-vhash
# integrity: journal mode over zero (as LVM2's test), direct mode over storage
HKEY=0102030405060708090a0102030405060102030405060708090a010203040506
s t-integrity dm create dmt-int --table "0 7856 integrity /dev/mapper/dmt-zero 0 32 J 7 journal_sectors:88 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:hmac(sha256):$HKEY journal_crypt:ctr(aes):$HKEY"
s t-integrity-table dm table dmt-int
s t-integrity-showkeys dm table --showkeys dmt-int
s t-integrity-status dm status dmt-int
s t-integrity-remove dm remove dmt-int
s t-integrity-d-dev dm create dmt-intdev --table "$(lin i 288 4)"
s t-integrity-d dm create dmt-intd --table "0 1000 integrity /dev/mapper/dmt-intdev 0 4 D 0"
s t-integrity-d-status dm status dmt-intd
s t-integrity-d-remove dm remove dmt-intd dmt-intdev
# multipath, a failed path raises an event: wait returns
s t-mp-a dm create dmt-p0 --table "$(lin a 292 4)"
s t-mp-b dm create dmt-p1 --table "$(lin a 292 4)"
# (bio-based: the paths are dm devices, not request-based queues)
s t-mp dm create dmt-mp --table "0 $((4 * MiB)) multipath 2 queue_mode bio 0 1 1 round-robin 0 2 1 /dev/mapper/dmt-p0 1 /dev/mapper/dmt-p1 1"
s t-mp-status dm status dmt-mp
s t-mp-table dm table dmt-mp
s t-mp-fail dm message dmt-mp 0 fail_path /dev/mapper/dmt-p1
s t-mp-wait dmw wait dmt-mp 0
s t-mp-status2 dm status dmt-mp
s t-mp-info dm info -c -o name,events dmt-mp
s t-mp-reinstate dm message dmt-mp 0 reinstate_path /dev/mapper/dmt-p1
s t-mp-wait2 dmw wait dmt-mp 1
s t-mp-queue dm message dmt-mp 0 queue_if_no_path
s t-mp-status3 dm status dmt-mp
s t-mp-remove dm remove dmt-mp dmt-p0 dmt-p1
# era, switch, unstriped, log-writes
s t-era-meta dm create dmt-erameta --table "$(lin m 296 4)"
s t-era-orig dm create dmt-eraorig --table "$(lin o 300 8)"
s t-era dm create dmt-era --table "0 $((8 * MiB)) era /dev/mapper/dmt-erameta /dev/mapper/dmt-eraorig 128"
s t-era-status dm status dmt-era
s t-era-checkpoint dm message dmt-era 0 checkpoint
s t-era-status2 dm status dmt-era
s t-era-remove dm remove dmt-era dmt-erameta dmt-eraorig
s t-switch dm create dmt-switch --table "0 8192 switch 2 64 0 $L $((308 * MiB)) $L $((312 * MiB))"
s t-switch-msg dm message dmt-switch 0 set_region_mappings 0:1 1:0
s t-switch-table dm table dmt-switch
s t-switch-status dm status dmt-switch
s t-unstriped dm create dmt-unstriped --table "0 8192 unstriped 2 64 1 /dev/mapper/dmt-striped 0"
s t-unstriped-table dm table dmt-unstriped
s t-logw-log dm create dmt-logwlog --table "$(lin l 316 4)"
s t-logw-dev dm create dmt-logwdev --table "$(lin d 320 4)"
s t-logw dm create dmt-logw --table "0 8192 log-writes /dev/mapper/dmt-logwdev /dev/mapper/dmt-logwlog"
s t-logw-mark dm message dmt-logw 0 mark hello
s t-logw-status dm status dmt-logw
s t-others-tree dm ls --tree -o ascii,notrunc
s t-others-remove dm remove dmt-switch dmt-unstriped dmt-logw dmt-logwlog dmt-logwdev
# kernel-dependent targets: vdo and clone (sid's kernel)
if neutral modprobe -q dm-clone 2>/dev/null; then
    s t-clone-meta dm create dmt-clmeta --table "$(lin m 324 4)"
    s t-clone-src dm create dmt-clsrc --table "$(lin s 328 8)"
    s t-clone-dst dm create dmt-cldst --table "$(lin d 336 8)"
    s t-clone dm create dmt-clone --table "0 $((8 * MiB)) clone /dev/mapper/dmt-clmeta /dev/mapper/dmt-cldst /dev/mapper/dmt-clsrc 64 1 no_hydration"
    s t-clone-status dm status dmt-clone
    s t-clone-remove dm remove dmt-clone dmt-clmeta dmt-clsrc dmt-cldst
else
    note t-clone "no dm-clone module on $(uname -r)"
fi
if neutral modprobe -q dm-vdo 2>/dev/null; then
    # A vdo volume needs far more room than this VM's RAM-backed disk
    # (slabs of 128 MiB plus the deduplication index): the load fails with
    # ENOSPC, and that failure is what both libraries must report alike.
    s t-vdo-dev dm create dmt-vdodev --table "$(lin v 344 64)"
    s t-vdo dm create dmt-vdo --table "0 $((64 * MiB)) vdo V4 /dev/mapper/dmt-vdodev $((64 * MiB / 8)) 4096 32768 16380"
    s t-vdo-remove dm remove dmt-vdodev
else
    note t-vdo "no dm-vdo module on $(uname -r)"
fi
s t-targets dm targets

echo "== tree"
for o in "" ascii ascii,compact ascii,inverted ascii,notrunc ascii,device ascii,nodevice ascii,blkdevname \
         ascii,active,open,rw,uuid utf vt100 ascii,inverted,compact,notrunc,blkdevname,active,open,rw,uuid; do
    s "tree${o:+-$o}" dm ls --tree ${o:+-o $o}
done
s tree-bad dm ls --tree -o nonsense

echo "== dmstats"
s st-dev dm create dmt-st --table "$(lin s 416 16)"
s st-dev2 dm create dmt-st2 --table "$(lin s 432 8)"
s st-nostats dms list dmt-st
s st-report-nostats dms report dmt-st
s st-create dms create dmt-st
s st-create-range dms create --start 0 --length 4096 dmt-st
s st-create-range-units dms create --start 1m --length 1m dmt-st
s st-create-areas dms create --areas 4 dmt-st
s st-create-areasize dms create --areasize 2m dmt-st2
s st-create-segments dms create --segments dmt-multi
s st-create-precise dms create --precise --start 0 --length 128 dmt-st
s st-create-bounds dms create --bounds 10ms,20ms,30ms dmt-st2
s st-create-bounds-io dms create --bounds 1s,2s --programid iotest dmt-a
s st-create-alias dms create --alias myalias dmt-st2
s st-create-userdata dms create --userdata hello --start 0 --length 8 dmt-st2
s st-create-programid dms create --programid other dmt-st2
s st-create-bad-bounds dms create --bounds 10ms,5ms dmt-st
s st-create-bad-bounds2 dms create --bounds nonsense dmt-st
s st-create-bad-range dms create --start 9999999 --length 8 dmt-st
s st-create-bad-areas dms create --areas 0 dmt-st
s st-create-conflict dms create --areas 2 --areasize 1m dmt-st
s st-create-missing dms create dmt-missing
s st-create-all dms create --alldevices --programid alldev --start 0 --length 8
s st-list dms list
s st-list-v dms list -v
s st-list-vv dms list -vv dmt-st
s st-list-allprograms dms list --allprograms
s st-list-program dms list --programid other
s st-list-histogram dms list --histogram
s st-list-units dms list --units s --nosuffix dmt-st
s st-list-area dms list --area dmt-st
s st-list-region dms list --region dmt-st
s st-list-group dms list --group
s st-list-regionid dms list --regionid 1 dmt-st
s st-list-unknown-region dms list --regionid 77 dmt-st
s st-print-noregion dms print dmt-st
s st-print dms print --allregions dmt-st
s st-print-region dms print --regionid 2 dmt-st
neutral dd if=/dev/mapper/dmt-a of=/dev/null bs=4096 count=8 iflag=direct status=none
neutral dd if=/dev/zero of=/dev/mapper/dmt-a bs=4096 count=3 oflag=direct status=none
# Time-valued fields and histograms by latency vary: the I/O region is only
# reported through --nameprefixes (the normaliser masks those keys).
STAT_COUNT=name,region_id,read_count,read_sector_count,write_count,write_sector_count,in_progress_count
STAT_TIME=read_time,write_time,io_ticks,queue_ticks,read_ticks,write_ticks,reads_merged_per_sec,writes_merged_per_sec,reads_per_sec,writes_per_sec,read_size_per_sec,write_size_per_sec,avg_request_size,queue_size,await,read_await,write_await,throughput,service_time,util,interval_ns,interval
STAT_HIST=hist_count,hist_count_bounds,hist_count_ranges,hist_percent,hist_percent_bounds,hist_percent_ranges,hist_bins,hist_bounds,hist_ranges
STAT_REGION=region_id,region_start,region_len,area_id,area_start,area_len,area_offset,area_count,group_id,program_id,user_data,precise,hist_bins,hist_bounds,hist_ranges,stats_name,obj_type
s st-report-io dms report --programid iotest --nameprefixes -o $STAT_COUNT,$STAT_TIME,$STAT_HIST dmt-a
s st-print-io dms print --allregions --programid iotest dmt-a
s st-print-clear dms print --clear --allregions --programid iotest dmt-a
s st-report-after-clear dms report --programid iotest --nameprefixes -o $STAT_COUNT dmt-a
s st-report dms report
s st-report-dev dms report dmt-st
s st-report-count dms report --count 1 dmt-st2
s st-report-interval dms report --interval 1 --count 2 --nameprefixes -o name,region_id,read_count,interval_ns,interval dmt-st2
s st-report-o-region dms report -o $STAT_REGION dmt-st dmt-st2
s st-report-o-counts dms report -o $STAT_COUNT,reads_merged_count,writes_merged_count dmt-st
s st-report-o-hist dms report -o name,region_id,$STAT_HIST dmt-st2
s st-report-histogram dms report --histogram dmt-st2
s st-report-units dms report --units k -o name,region_id,region_start,region_len dmt-st
s st-report-sort dms report -o name,region_id,region_start -O -region_id dmt-st
s st-report-select dms report -o name,region_id,region_len -S 'region_len>1m' dmt-st
s st-report-select-bad dms report -S 'region_len>>1' dmt-st
s st-report-area dms report --area -o name,region_id,area_id,area_start,area_len dmt-st
s st-report-region dms report --region -o name,region_id,area_count dmt-st
s st-report-noheadings dms report --noheadings --separator , -o name,region_id,region_len dmt-st
s st-report-rows dms report --rows -o name,region_id dmt-st
s st-report-relative dms report --relative -o name,region_id,hist_percent dmt-st2
s st-report-raw dms report --raw -o name,region_id dmt-st
s st-report-notimesuffix dms report --notimesuffix -o name,hist_bounds dmt-st2
s st-report-help dms report -o help
s st-report-bad-field dms report -o no_such_field
s st-group dms group --regions 0,1,2 dmt-st
s st-group-alias dms group --alias grp --regions 3-4 dmt-st
s st-group-bad dms group --regions 99 dmt-st
s st-list-after-group dms list --group dmt-st
s st-report-group dms report --group -o name,region_id,group_id,stats_name,obj_type dmt-st
s st-ungroup dms ungroup --groupid 0 dmt-st
s st-ungroup-bad dms ungroup --groupid 42 dmt-st
s st-clear dms clear --regionid 0 dmt-st
s st-clear-all dms clear --allregions dmt-st
s st-clear-alldevices dms clear --allregions --alldevices
s st-delete dms delete --regionid 1 dmt-st
s st-delete-unknown dms delete --regionid 99 dmt-st
s st-delete-noregion dms delete dmt-st
s st-delete-all dms delete --allregions dmt-st
s st-delete-nostats dms delete --allregions dmt-ro
s st-delete-program dms delete --programid alldev --allregions --alldevices
s st-list-after dms list --allprograms
s st-setup-stats dm stats list --allprograms
s st-delete-alldevices dms delete --allprograms --allregions --alldevices
s st-list-none dms list --allprograms
# --filemap: a file on ext4 on a dm device (fixed uuid and hash seed,
# no lazy init, so that the extents are the same each run)
s st-fs-dev dm create dmt-fs --table "$(lin f 448 48)"
neutral mkfs.ext4 -q -F -b 4096 -U 6b1e2f6a-0f3c-4a6e-9c1b-2b6f0e6b1e2f -E hash_seed=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0,lazy_itable_init=0,lazy_journal_init=0,nodiscard /dev/mapper/dmt-fs >/dev/null 2>&1
mkdir -p "$W/mnt"
neutral mount -t ext4 /dev/mapper/dmt-fs "$W/mnt" && note st-fs "mounted" || note st-fs "mount failed"
neutral dd if=/dev/zero of="$W/mnt/file" bs=64k count=16 conv=fsync status=none
neutral dd if=/dev/zero of="$W/mnt/file2" bs=4k count=3 conv=fsync status=none
sync
s st-filemap dms create --filemap --nomonitor "$W/mnt/file"
s st-filemap-nogroup dms create --filemap --nomonitor --nogroup "$W/mnt/file2"
s st-filemap-precise dms create --filemap --nomonitor --precise --bounds 1s --programid fm2 "$W/mnt/file2"
# Without --nomonitor the library forks and execs "dmfilemapd" from PATH
# (Debian does not ship it): a stand-in records the arguments it gets.
mkdir -p "$W/bin"
# (one file per group id, the second argument)
printf '#!/bin/sh\necho "$*" >%s/filemapd.tmp$2 && mv %s/filemapd.tmp$2 %s/filemapd.args$2\n' "$W" "$W" "$W" >"$W/bin/dmfilemapd"
chmod +x "$W/bin/dmfilemapd"
OPATH=$PATH PATH=$W/bin:$PATH
s st-filemap-monitor dms create --filemap --programid fm3 "$W/mnt/file2"
s st-filemap-monitor-path dms create --filemap --follow path --programid fm4 "$W/mnt/file2"
PATH=$OPATH
for g in 3 4; do
    for i in $(seq 1 100); do [ -f "$W/filemapd.args$g" ] && break; sleep 0.05; done
    note st-filemap-monitor "dmfilemapd for group $g started with: $(cat "$W/filemapd.args$g" 2>/dev/null || echo nothing)"
done
s st-filemap-follow-bad dms create --filemap --nomonitor --follow sideways "$W/mnt/file2"
s st-filemap-list dms list dmt-fs
s st-filemap-list-group dms list --group dmt-fs
s st-filemap-report dms report --group -o name,region_id,group_id,region_start,region_len,stats_name,obj_type dmt-fs
neutral dd if=/dev/zero of="$W/mnt/file" bs=64k count=16 seek=16 conv=fsync,notrunc status=none
sync
s st-update-filemap dms update_filemap --groupid 0 --nomonitor "$W/mnt/file"
s st-update-filemap-list dms list --group dmt-fs
s st-update-filemap-bad dms update_filemap --groupid 77 --nomonitor "$W/mnt/file"
s st-filemap-nofile dms create --filemap --nomonitor "$W/mnt/missing"
s st-filemap-notdm dms create --filemap --nomonitor "$W/table.c"
s st-filemap-delete dms delete --allprograms --allregions dmt-fs
neutral umount "$W/mnt"
s st-fs-remove dm remove dmt-fs
s st-remove dm remove dmt-st dmt-st2

echo "== remove"
s remove dm remove dmt-a
node remove dmt-a
s remove-multi dm remove dmt-b3 dmt-c
s remove-missing dm remove dmt-missing
exec 7</dev/mapper/dmt-u
s remove-busy dm remove dmt-u
s remove-retry-busy-info dm info -c -o name,open dmt-u
s remove-force dm remove --force dmt-u
s remove-force-table dm table dmt-u
s remove-force-info dm info -c -o name,attr,open dmt-u
exec 7<&-
s remove-after-force dm remove dmt-u
exec 7</dev/mapper/dmt-u2
s remove-deferred dm remove --deferred dmt-u2
s remove-deferred-info dm info dmt-u2
s remove-deferred-ls dm ls
exec 7<&-
until_gone dmt-u2 || note remove-deferred-gone "dmt-u2 still there 20 s after its last close"
s remove-deferred-gone dm info dmt-u2
exec 7</dev/mapper/dmt-ro
s remove-deferred-cancel dm remove --deferred dmt-ro
s remove-deferred-cancel-msg dm message dmt-ro 0 @cancel_deferred_remove
exec 7<&-
s remove-deferred-cancelled dm info -c -o name,attr dmt-ro
s remove-retry dm remove --retry dmt-ro
s remove-verbose dm remove -v dmt-ro2
s remove-uuid dm remove -u DMT-K1
s remove-majmin dm remove -j "$DMMAJ" -m 200
s remove-all-left dm ls
s remove_all dm remove_all
s remove_all-force dm remove_all --force
s remove_all-after dm ls
nodes remove-all

echo "== noudev (without DM_DISABLE_UDEV)"
udev_disabled 0
s noudev-create dm create dmt-nu --table "0 8 zero"
node noudev-create dmt-nu
s noudev-vvv dm -vvv info dmt-nu
s noudev-cookie dm udevcreatecookie
s noudev-cookies dm udevcookies
s noudev-verifyudev dm create dmt-nu2 --verifyudev --table "0 8 zero"
node noudev-verifyudev dmt-nu2
s noudev-remove dm remove dmt-nu dmt-nu2
s noudev-complete-all dm udevcomplete_all -y
udev_disabled 1
s final-ls dm ls
s final-mknodes dm mknodes
nodes final

neutral losetup -d "$L"
cd /
rm -rf "$W"
