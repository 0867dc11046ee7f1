"""The few lines that say why a step of scripts/test.sh failed, printed as the tier's last lines:
CI keeps only the tail of a long log, and the pytest summary or Ansible's fatal message of a
failed scenario sits hundreds of lines above it (molecule prints its destroy after them).

    python scripts/failure-summary.py STEP-LOG

Prints: pytest's FAILED/ERROR lines and the first assertion lines (`E   ...`) of each failure;
when no test failed, Ansible's `fatal:` lines; failing those, the log's last lines. Colours and molecule's box
drawing are dropped, long lines cut."""
import re
import sys

WIDTH = 400  # a line of the summary, at most
ASSERTION_LINES = 6  # per failure
TOTAL = 30

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
lines = [re.sub(r"^\s*[\u2502|]\s?", "", re.sub(r"\x1b\[[0-9;]*m", "", line)).rstrip() for line in text.splitlines()]

failed, assertions, fatal, run = [], [], [], 0
for line in lines:
    if re.match(r"^(FAILED|ERROR) \S+::", line) or re.match(r"^\S+::\S+ (FAILED|ERROR)\b", line):
        failed.append(line)
    elif re.match(r"^_{3,} .* _{3,}$", line):
        run = 0  # the next failure's traceback
    elif line.startswith("E ") and run < ASSERTION_LINES:
        assertions.append(line)
        run += 1
    elif re.match(r"^fatal: \[", line) or "Task failed:" in line or re.match(r"^(ERROR|CRITICAL) ", line):
        fatal.append(line)

# A failed test's own lines when there are any: passing tests print expected `fatal:` lines too.
picked = list(dict.fromkeys(line for line in (failed + assertions if failed else fatal) if line.strip()))
if not picked:
    picked = [line for line in lines if line.strip()][-15:]
print("=== why it failed (scripts/failure-summary.py; the whole log is above)")
for line in picked[:TOTAL]:
    print(line if len(line) <= WIDTH else line[:WIDTH] + " ...")
if len(picked) > TOTAL:
    print("... and %d more lines like these above" % (len(picked) - TOTAL))
