#!/usr/bin/env bash
# The door terminal on a machine with no camera and no GPIO: makes a short video from ../shared/data/faces photos (an enrolled
# person, then a stranger), enrols the person in a fresh demo data folder and runs `echoface run --camera file:...` on it with the
# simulated door, printing the summary. Media and data stay under reports/demo (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
photos=../shared/data/faces/photos
[ -d "$photos" ] || { echo "deploy/demo.sh: $photos not found: check out ../shared beside the repository" >&2; exit 2; }
echoface() { dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll "$@"; }
out=reports/demo
rm -rf "$out" && mkdir -p "$out"

member=$photos/df_angelina_jolie
stranger=$photos/df_jeff_bezos
# each photo over a blurred copy of itself, as the camera source frames files (CameraFraming.Fill): black bars around a face read
# as a screen's bezel to the liveness models
frame() {
  echo "split[$1s][$1f];[$1s]scale=640:480:force_original_aspect_ratio=increase,crop=640:480,boxblur=20[$1b];" \
    "[$1f]scale=640:480:force_original_aspect_ratio=decrease[$1p];[$1b][$1p]overlay=(W-w)/2:(H-h)/2,setsar=1,fps=15" | tr -d ' '
}
ffmpeg -v error -y -loop 1 -t 3 -i "$member/img11.jpg" -f lavfi -t 2 -i color=black:s=640x480:r=15 -loop 1 -t 3 -i "$stranger/img20.jpg" \
  -filter_complex "[0]$(frame a)[a];[1]setsar=1,format=yuv420p[g];[2]$(frame b)[b];[a][g][b]concat=n=3:v=1[v]" -map "[v]" \
  -c:v libx264 -pix_fmt yuv420p "$out/door.mp4"

echoface --data "$out/data" enroll jolie --name "Angelina Jolie" "$member/img1.jpg" "$member/img10.jpg"
echoface --data "$out/data" run --camera "file:$out/door.mp4" --once --door simulated --health http://127.0.0.1:0
echo "events: sqlite3 $out/data/echoface.db 'SELECT kind, payload FROM outbox'"
