#!/usr/bin/env bash
# Renders a deploy/nats template: every {{KEY}} becomes the VALUE given as KEY=VALUE
# (KEY=@FILE takes the value from FILE). Fails if a placeholder is left unset, so a config
# never reaches nats-server half-filled, and if a *_PASSWORD is empty: every user of these
# configurations logs in with one (the leaf's node user too: no connection gets in without
# credentials), and an empty one would be a user anyone can be. The system tests render the
# same templates the same way (tests/system/src/lib.rs, render_deploy_template).
#
#   deploy/nats/render.sh TEMPLATE KEY=VALUE... > FILE
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 TEMPLATE KEY=VALUE... > FILE" >&2
  exit 2
fi
text="$(cat "$1")"
shift
for pair in "$@"; do
  key="${pair%%=*}"
  value="${pair#*=}"
  if [ "$key" = "$pair" ] || [ -z "$key" ]; then
    echo "render: $pair is not KEY=VALUE" >&2
    exit 2
  fi
  if [ "${value:0:1}" = "@" ]; then
    value="$(cat "${value:1}")"
  fi
  if [[ "$key" == *PASSWORD && -z "$value" ]]; then
    echo "render: $key is empty" >&2
    exit 2
  fi
  text="${text//"{{$key}}"/"$value"}"
done
if unset_keys="$(grep -o '{{[A-Z_]*}}' <<<"$text" | sort -u)" && [ -n "$unset_keys" ]; then
  echo "render: unset placeholders: $(echo $unset_keys)" >&2
  exit 1
fi
printf '%s\n' "$text"
