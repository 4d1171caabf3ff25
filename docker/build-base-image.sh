#!/bin/bash
# build-base-image.sh - build ddlproxy's Docker images from Debian packages,
# without pulling anything from a container registry.
#
# A machine that can reach a Debian mirror (through apt) but no container
# registry cannot 'FROM debian:bookworm-slim'. This script makes the images
# from scratch instead: debootstrap a minimal Debian bookworm, add packages
# with apt-get inside a chroot, and 'docker import' the tree.
#
#   ddlproxy-base:bookworm     minimal Debian (debootstrap --variant=minbase)
#   ddlproxy-builder:bookworm  base + compiler, autotools and ddlproxy's -dev packages
#   ddlproxy-runtime:bookworm  base + the shared libraries ddlproxy links to
#   ddlproxy-mariadb:bookworm  base + mariadb-server (docker/local topology)
#   ddlproxy-etcd:bookworm     base + etcd-server and etcd-client (docker/local)
#
# Usage: docker/build-base-image.sh [--force] [--list] [IMAGE...]
#   IMAGE is one of: base builder runtime mariadb etcd all (default: all).
#   --force  rebuild images that already exist (the package caches are kept).
#   --list   print the image names and their packages, build nothing.
#
# Environment:
#   DDLPROXY_CACHE   cache directory (default ~/.cache/ddlproxy): the
#                    debootstrap root tarball and downloaded .deb files, so a
#                    rebuild does not download or bootstrap again.
#   DDLPROXY_MIRROR  Debian mirror URL; by default the one apt already uses,
#                    read from /etc/apt/sources.list{,.d/*.list,.d/*.sources}.
#
# Needs root (debootstrap, chroot, mount), debootstrap and a Docker engine.
set -euo pipefail

readonly SUITE=bookworm
readonly CACHE_DIR="${DDLPROXY_CACHE:-${HOME:-/root}/.cache/ddlproxy}"
readonly ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
readonly ROOT_TARBALL="$CACHE_DIR/$SUITE-minbase-$ARCH.tar"
readonly DEB_CACHE="$CACHE_DIR/debs-$SUITE-$ARCH"

# One table: image short name -> packages added on top of the minimal base.
declare -A IMAGE_PACKAGES=(
    [base]=""
    [builder]="build-essential autoconf automake pkg-config libev-dev libssl-dev uthash-dev libcunit1-dev libjansson-dev libmariadb-dev libcurl4-openssl-dev"
    [runtime]="libev4 libssl3 libjansson4 libmariadb3 libcurl4 ca-certificates"
    [mariadb]="mariadb-server mariadb-client"
    [etcd]="etcd-server etcd-client"
)
readonly IMAGE_ORDER="base builder runtime mariadb etcd"
# State a package's maintainer scripts create that the image must not carry:
# the containers initialise it themselves (docker/local/mariadb-start.sh).
declare -A IMAGE_PRUNE=(
    [mariadb]="var/lib/mysql"
)

die() { echo "build-base-image: error: $*" >&2; exit 1; }
note() { echo "build-base-image: $*" >&2; }

image_tag() { echo "ddlproxy-$1:$SUITE"; }

# Prints the first enabled Debian mirror URI apt uses for SUITE (or SUITE-SUFFIX).
# One-line format: "deb [opts] URI SUITE COMPONENTS"; deb822 format: paragraphs
# with Types/URIs/Suites/Enabled fields.
apt_source_uri() {
    local want_suite="$1" f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk -v suite="$want_suite" '
            $1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk -v suite="$want_suite" '
            function flush() {
                if (is_deb && enabled && has_suite && uri != "") { print uri; found = 1 }
                is_deb = 0; enabled = 1; has_suite = 0; uri = ""
            }
            BEGIN { enabled = 1 }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); if (found) exit; next }
            {
                key = tolower($1); sub(/:$/, "", key)
                if (key == "types") { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
                else if (key == "enabled") { enabled = (tolower($2) != "no") }
                else if (key == "suites") { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
                else if (key == "uris") { uri = $2 }
            }
            END { if (!found) flush() }' "$f"
    done
}

detect_mirror() {
    if [ -n "${DDLPROXY_MIRROR:-}" ]; then
        echo "$DDLPROXY_MIRROR"
        return
    fi
    local uri
    uri="$(apt_source_uri "$SUITE" | head -n1)"
    [ -n "$uri" ] || die "no Debian '$SUITE' source found in /etc/apt/sources.list or /etc/apt/sources.list.d/; set DDLPROXY_MIRROR=<mirror URL>"
    echo "$uri"
}

# Mounts made for a chroot are recorded here so the EXIT trap can undo them
# even when apt-get fails halfway.
MOUNTS=()
WORK_DIRS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    for i in "${WORK_DIRS[@]}"; do
        # Never remove a tree that still has something mounted inside.
        if ! grep -q " $i/" /proc/mounts; then
            rm -rf "$i"
        else
            note "left $i in place: something is still mounted inside it"
        fi
    done
}
trap cleanup EXIT
# Make INT/TERM go through the EXIT trap too, so mounts never outlive the script.
trap 'exit 130' INT TERM

# Sets WORK_DIR (not printed: a $(...) subshell would lose the cleanup record).
new_work_dir() {
    WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ddlproxy-rootfs.XXXXXX")"
    # mktemp makes it 0700; as the image's / it must be 0755 (non-root users
    # and apt's _apt sandbox user walk through it).
    chmod 0755 "$WORK_DIR"
    WORK_DIRS+=("$WORK_DIR")
}

mount_into() {
    mount "$@"
    MOUNTS+=("${!#}")
}

umount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}"
    done
    MOUNTS=()
}

# Package lists, caches and logs apt leaves behind: not wanted in an image.
clean_apt_state() {
    local dir="$1"
    rm -rf "$dir/var/lib/apt/lists/"* "$dir/var/cache/apt/"*.bin \
        "$dir/var/cache/apt/archives/"*.deb "$dir/var/cache/apt/archives/partial/"* \
        "$dir/var/log/"*.log "$dir/var/log/apt/"* "$dir/tmp/"*
}

# Like Debian's slim images: no docs, man pages or translations.
slim_rootfs() {
    local dir="$1"
    mkdir -p "$dir/etc/dpkg/dpkg.cfg.d"
    cat > "$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
# Keep container images small (as Debian's -slim images do).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$dir/usr/share/man/"* "$dir/usr/share/info/"* 2>/dev/null || true
    find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    clean_apt_state "$dir"
}

# The minimal root file system, bootstrapped once and kept as a tarball.
ensure_root_tarball() {
    [ -s "$ROOT_TARBALL" ] && return 0
    local mirror dir security started
    mirror="$(detect_mirror)"
    security="$(apt_source_uri "$SUITE-security" | head -n1)"
    note "bootstrapping Debian $SUITE ($ARCH) from $mirror"
    mkdir -p "$DEB_CACHE"
    new_work_dir
    dir="$WORK_DIR"
    started=$SECONDS
    debootstrap --variant=minbase --arch="$ARCH" --cache-dir="$DEB_CACHE" \
        "$SUITE" "$dir" "$mirror" >&2 \
        || die "debootstrap failed (log: $dir/debootstrap/debootstrap.log)"
    {
        echo "deb $mirror $SUITE main"
        echo "deb $mirror $SUITE-updates main"
        [ -z "$security" ] || echo "deb $security $SUITE-security main"
    } > "$dir/etc/apt/sources.list"
    # The engine provides these at run time; the host's copies must not leak in.
    : > "$dir/etc/resolv.conf"
    : > "$dir/etc/hostname"
    slim_rootfs "$dir"
    tar -C "$dir" --numeric-owner -cf "$ROOT_TARBALL.tmp" .
    mv "$ROOT_TARBALL.tmp" "$ROOT_TARBALL"
    note "bootstrap took $((SECONDS - started)) s; cached in $ROOT_TARBALL"
}

# apt-get inside DIR: services must not start (policy-rc.d), /proc must exist
# for some maintainer scripts, and .deb files go to the shared cache.
chroot_install() {
    local dir="$1"; shift
    printf '#!/bin/sh\n# No service starts while building an image.\nexit 101\n' \
        > "$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$dir/etc/resolv.conf"
    mkdir -p "$DEB_CACHE/partial"
    mount_into -t proc proc "$dir/proc"
    mount_into --bind /dev "$dir/dev"
    mount_into --bind /dev/pts "$dir/dev/pts"
    mount_into --bind "$DEB_CACHE" "$dir/var/cache/apt/archives"

    chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
        sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"' \
        apt-install "$@" >&2 \
        || die "apt-get install $* failed in the chroot"

    umount_all
    rm -f "$dir/usr/sbin/policy-rc.d"
    : > "$dir/etc/resolv.conf"
    clean_apt_state "$dir"
}

build_image() {
    local name="$1" tag packages dir started
    tag="$(image_tag "$name")"
    packages="${IMAGE_PACKAGES[$name]}"
    if [ "$FORCE" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
        note "$tag exists (use --force to rebuild)"
        return 0
    fi
    started=$SECONDS
    ensure_root_tarball
    new_work_dir
    dir="$WORK_DIR"
    tar -C "$dir" --numeric-owner -xf "$ROOT_TARBALL"
    chmod 0755 "$dir"    # tar restores the mode of "." from the tarball
    clean_apt_state "$dir"   # a tarball cached by an older version may hold .debs
    if [ -n "$packages" ]; then
        note "$tag: installing $packages"
        # shellcheck disable=SC2086 # a word list on purpose
        chroot_install "$dir" $packages
    fi
    local prune
    for prune in ${IMAGE_PRUNE[$name]:-}; do
        find "$dir/$prune" -mindepth 1 -delete
    done
    tar -C "$dir" --numeric-owner -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL org.opencontainers.image.title=$tag" \
        --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase${packages:+ + $packages}\"" \
        --message "docker/build-base-image.sh $name" \
        - "$tag" >/dev/null
    rm -rf "$dir"
    note "$tag built in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

FORCE=0
WANT=()
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --list)
            for n in $IMAGE_ORDER; do
                printf '%-28s %s\n' "$(image_tag "$n")" "${IMAGE_PACKAGES[$n]:-(debootstrap minbase)}"
            done
            exit 0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        all) WANT+=($IMAGE_ORDER) ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *)
            [ -n "${IMAGE_PACKAGES[$1]+set}" ] \
                || die "unknown image '$1': expected one of: $IMAGE_ORDER all"
            WANT+=("$1") ;;
    esac
    shift
done
[ ${#WANT[@]} -gt 0 ] || WANT=($IMAGE_ORDER)

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount need it)"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
docker info >/dev/null 2>&1 || die "no Docker engine reachable ('docker info' failed)"
mkdir -p "$CACHE_DIR"

# Two runs at once would bootstrap into the same cache: serialise them.
exec 9> "$CACHE_DIR/.lock"
flock 9

TOTAL_STARTED=$SECONDS
for n in "${WANT[@]}"; do
    build_image "$n"
done
note "done in $((SECONDS - TOTAL_STARTED)) s"
