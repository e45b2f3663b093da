# syntax=docker/dockerfile:1
# vxman in a container: the compiled single binary on Debian slim, as user and group vxman
# (10001:10001).
#
#   docker build -t vxman .
#   docker run -d --name vxman -p 8080:8080 -v vxman-data:/var/lib/vxman --stop-timeout 15 vxman
#   docker logs vxman 2>&1 | grep 'generated admin token'
#
# Podman: `podman build --format docker -t vxman .`. Its default format, OCI, has no HEALTHCHECK,
# and Podman drops the one below with only a warning. Without systemd on the host Podman runs no
# health timer: `podman healthcheck run vxman` checks once.
#
# Monitoring (ICMP) as a non-root user: Docker 20.10+ sets net.ipv4.ping_group_range to
# "0 2147483647" in a container's own network namespace, so vxman opens unprivileged ICMP
# datagram sockets and needs no capability at all. Elsewhere (older Docker, Podman, Kubernetes
# without that sysctl) pass --sysctl net.ipv4.ping_group_range="0 2147483647".
#
# With --network host the host's own sysctl applies (a container may not set it): set it on the
# host, or give vxman raw sockets. Not as root with NET_RAW only: the data folder is 10001's,
# mode 0700, and root without CAP_DAC_OVERRIDE cannot enter it (EACCES on vxman.lock). Start as
# root just long enough for setpriv to become 10001 with CAP_NET_RAW kept as an ambient
# capability (Docker gives a non-root user none of the capabilities added with --cap-add):
#
#   docker run -d --name vxman --network host -v vxman-data:/var/lib/vxman --stop-timeout 15 \
#     --user 0:0 --cap-drop ALL --cap-add NET_RAW --cap-add SETUID --cap-add SETGID \
#     --entrypoint setpriv vxman --reuid 10001 --regid 10001 --clear-groups \
#     --inh-caps=+net_raw --ambient-caps=+net_raw --no-new-privs /usr/local/bin/vxman serve
#
# Podman itself makes an added capability ambient for a non-root user: there `--network host
# --cap-add NET_RAW` is enough. Without any of these vxman still serves, with monitoring off, and
# /health says why. All of this ran for real with Podman 4.3 (scripts/ops/podman.sh); Docker's
# engine was not available to run it.
#
# The binary deliberately has no file capability (setcap cap_net_raw+ep): the kernel refuses to
# exec such a file when CAP_NET_RAW is not in the container's bounding set (--cap-drop NET_RAW,
# or a runtime that drops it by default), so the container would not start at all.

# --- build: Node.js for npm, which installs the pinned Bun from the lockfile ------------------
FROM node:22-bookworm-slim AS build
# git: scripts/build.ts bakes the commit into `vxman version` and /health.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV PATH=/src/node_modules/.bin:$PATH
RUN node_modules/.bin/bun scripts/build.ts \
 && ./dist/vxman version

# --- run: the binary needs only glibc (ldd: libc, libm, libpthread, libdl) -----------------
FROM debian:bookworm-slim
# The group first, with its number: `useradd --user-group` would pick a system GID (999).
RUN groupadd --system --gid 10001 vxman \
 && useradd --system --uid 10001 --gid vxman --no-create-home --home-dir /var/lib/vxman --shell /usr/sbin/nologin vxman \
 && install -d -o vxman -g vxman -m 0700 /var/lib/vxman
COPY --from=build /src/dist/vxman /usr/local/bin/vxman
ENV DATA_DIR=/var/lib/vxman \
    HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/vxman
VOLUME ["/var/lib/vxman"]
EXPOSE 8080
# vxman stops cleanly within 10 s of SIGTERM; give it --stop-timeout 15 (Docker's default is 10).
STOPSIGNAL SIGTERM
# No curl in the image: the binary itself, run as the Bun CLI (BUN_BE_BUN=1), asks /health.
# 200 while the database answers (monitoring off still counts as healthy: the API works).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["env", "BUN_BE_BUN=1", "/usr/local/bin/vxman", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/vxman"]
CMD ["serve"]
