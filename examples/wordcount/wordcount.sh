# The user script of the wordcount example: runs in each task's container with its inputs already downloaded.
# INPUT_FILE, SCRIPT and OUTPUT_FILE are local paths under /scratch (set from the tasks file); NAME is the play.
set -eu
mkdir -p "$(dirname "$OUTPUT_FILE")"
echo "counting words of $NAME"
python3 "${SCRIPT}count_words.py" "$INPUT_FILE" > "$OUTPUT_FILE"
echo "$(wc -l < "$OUTPUT_FILE") distinct words in $NAME"
