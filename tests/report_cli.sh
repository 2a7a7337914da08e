#!/usr/bin/env bash
# report_cli.sh — `ckptfs report` on the PyTorch fixtures: the text of
# design.md §5, exit codes (0 ok, 3 incompatible, 1 input error, 2 usage), the
# JSON form, a checkpoint as the reference, and the hint commands run by a real
# shell: first against a plain directory tree made from the checkpoint's keys,
# then (when /dev/fuse works) inside a mount until `_report` says ok, and the
# committed checkpoint reports ok too.
set -u
CKPTFS=${CKPTFS:?CKPTFS must name the ckptfs binary}
CK_SRC=${CK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CK_DATA=${CK_DATA:-$CK_SRC/tests/data}
PYTHON=${PYTHON:-/usr/bin/python3}

REF=$CK_DATA/bert_tiny_reference.txt
PRE=$CK_DATA/bert_pretrain.bin
GB=$CK_DATA/bert_gamma_beta_legacy.bin
DDP=$CK_DATA/ddp_module.pt
for f in "$CKPTFS" "$REF" "$PRE" "$GB" "$DDP"; do
	if [ ! -e "$f" ]; then
		echo "SKIP: $f is missing"
		exit 77
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-report.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}
ok() {
	echo "ok: $*"
}

# run NAME WANT_STATUS ARGS...: runs ckptfs, output in $T/NAME.out/.err, checks the status.
run() {
	local name=$1 want=$2
	shift 2
	"$CKPTFS" "$@" >"$T/$name.out" 2>"$T/$name.err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name: exit $rc"
	else
		fail "$name: exit $rc, want $want (ckptfs $*)"
		sed 's/^/    /' "$T/$name.err" >&2
	fi
}

# has NAME LINE...: each LINE is a whole line of $T/NAME.out.
has() {
	local name=$1 line
	shift
	for line in "$@"; do
		if grep -qxF -- "$line" "$T/$name.out"; then
			ok "$name: '$line'"
		else
			fail "$name: no line '$line'"
			sed 's/^/    /' "$T/$name.out" | head -20 >&2
		fi
	done
}

# hints_of FILE: the hint commands of a report text, one a line.
hints_of() {
	awk '/^hints$/ {h = 1; next} /^status:/ {h = 0} h { sub(/^  /, ""); i = index($0, "   "); print substr($0, 1, i - 1) }' "$1"
}

# ---- text, exit codes ----------------------------------------------------------------
HEAD_TEXT="removes 9 unexpected keys (this IS expected if you are initializing from a checkpoint of a model trained on another task or with another architecture, e.g. a BertForPreTraining checkpoint into a BertModel)"

run pre 3 report --reference "$REF" "$PRE"
has pre "reference: bert_tiny_reference.txt (40 tensors)" "checkpoint: 49 tensors" "missing 40" \
	"  embeddings.position_ids [1,16]" "unexpected 49" "  cls.predictions.bias [32]" "mismatched 0" "hints" \
	"  mv bert/* .   would match 40 missing keys" "  rm -r cls   $HEAD_TEXT" "status: incompatible"
if [ "$(tail -n 1 "$T/pre.out")" == "status: incompatible" ] && [ "$(head -n 1 "$T/pre.out")" == "reference: bert_tiny_reference.txt (40 tensors)" ]; then
	ok "pre: first and last lines"
else
	fail "pre: first/last line"
fi
# design.md §2 writes the options after CHECKPOINT; the rest of this script puts them first
run pre_opts_after 3 report "$PRE" --reference "$REF"
if cmp -s "$T/pre.out" "$T/pre_opts_after.out"; then ok "same report either order"; else fail "option order changes the report"; fi

run self_ok 0 report "$PRE"
has self_ok "reference: none (self-check)" "checkpoint: 49 tensors" "missing 0" "unexpected 0" "mismatched 0" "status: ok"

run ddp 3 report --reference "$REF" "$DDP"
has ddp "missing 40" "unexpected 40" "  mv module/* .   would match 40 missing keys"
run ddp_self 3 report "$DDP"
has ddp_self "  mv module/* .   strips the prefix module. shared by all 40 keys (a DDP or torch.compile wrapper)" \
	"status: incompatible"

run gb 3 report --reference "$REF" "$GB"
has gb "  mv bert/* .   would match 30 missing keys" "  rm -r cls   $HEAD_TEXT"
if grep -qF "  find . \( -path '*/LayerNorm/gamma' -o -path '*/LayerNorm/beta' \) -type f | while IFS= read -r f; do case \$f in */gamma) mv \"\$f\" \"\${f%/*}/weight\";; *) mv \"\$f\" \"\${f%/*}/bias\";; esac; done   would match 10 missing keys (10 together with the mv hint)" "$T/gb.out"; then
	ok "gb: the gamma/beta loop"
else
	fail "gb: no gamma/beta loop hint"
fi
run gb_self 3 report "$GB"
has gb_self "unexpected 12" "  bert.embeddings.LayerNorm.gamma [8]" "  cls.predictions.transform.LayerNorm.beta [8]"

# a checkpoint as the reference: bert.* against module.*
run ckref 3 report --reference "$DDP" "$PRE"
has ckref "reference: ddp_module.pt (40 tensors)" "  mv bert module   would match 40 missing keys"
run ckref_same 0 report --reference "$DDP" "$DDP"
has ckref_same "missing 0" "unexpected 0" "mismatched 0" "status: ok"

# whole texts: shape and dtype mismatches, a stray leaf, a head against a fine-tuning model
run edited 3 report --reference "$CK_DATA/report/pretrain_edited_keys.txt" "$PRE"
cat >"$T/edited.want" <<'EOF'
reference: pretrain_edited_keys.txt (49 tensors)
checkpoint: 49 tensors
missing 1
  bert.pooler.extra.weight [8,8]
unexpected 1
  cls.seq_relationship.bias [2]
mismatched 2
  bert.embeddings.word_embeddings.weight checkpoint [32,8] float32 reference [30,8]
  bert.encoder.layer.0.output.dense.weight checkpoint [8,16] float32 reference [8,16] float16
hints
  rm cls/seq_relationship/bias   removes 1 unexpected key (not in the reference)
status: incompatible
EOF
if diff -u "$T/edited.want" "$T/edited.out" >&2; then ok "edited: whole text"; else fail "edited: whole text"; fi
run seqcls 3 report --reference "$CK_DATA/report/bert_seqcls_keys.txt" "$PRE"
{
	printf '%s\n' "reference: bert_seqcls_keys.txt (42 tensors)" "checkpoint: 49 tensors" "missing 2" \
		"  classifier.weight [3,8]" "  classifier.bias [3]" "unexpected 9"
	"$CKPTFS" ls "$PRE" | awk '/^cls\./ {print "  " $1 " " $3}'
	printf '%s\n' "mismatched 0" "hints" "  rm -r cls   $HEAD_TEXT" "status: incompatible"
} >"$T/seqcls.want"
if diff -u "$T/seqcls.want" "$T/seqcls.out" >&2; then ok "seqcls: whole text"; else fail "seqcls: whole text"; fi

# input and usage errors
run broken_list 1 report --reference "$CK_DATA/report/broken_shape.txt" "$PRE"
expect_line() {
	if [ "$(cat "$T/$1.err")" == "$2" ]; then ok "$1: stderr"; else fail "$1: stderr [$(cat "$T/$1.err")] want [$2]"; fi
}
expect_line broken_list "ckptfs: $CK_DATA/report/broken_shape.txt:3: malformed shape (want [d1,d2,...])"
if [ ! -s "$T/broken_list.out" ]; then ok "broken_list: nothing on stdout"; else fail "broken_list: stdout not empty"; fi
run missing_ckpt 1 report --reference "$REF" "$T/nope.bin"
run missing_ref 1 report --reference "$T/nope.txt" "$PRE"
printf 'a [1,x]\n' >"$T/bad.txt"
run bad_ref 1 report --reference "$T/bad.txt" "$PRE"
if grep -qF "$T/bad.txt:1: malformed shape" "$T/bad_ref.err" && [ "$(wc -l <"$T/bad_ref.err")" -eq 1 ]; then
	ok "bad_ref: one line naming file:line"
else
	fail "bad_ref: stderr: $(cat "$T/bad_ref.err")"
fi
run no_args 2 report

# ---- JSON ------------------------------------------------------------------------------------
run json 3 report --reference "$REF" --json "$GB"
if $PYTHON - "$T/json.out" <<'EOF'; then ok "json: fields"; else fail "json: fields"; fi
import json, sys
r = json.load(open(sys.argv[1]))
assert r["reference"] == "bert_tiny_reference.txt", r["reference"]
assert r["reference_tensors"] == 40 and r["checkpoint_tensors"] == 49
assert len(r["missing"]) == 40 and len(r["unexpected"]) == 49 and r["mismatched"] == []
assert r["missing"][0] == {"key": "embeddings.position_ids", "shape": [1, 16]}, r["missing"][0]
assert {"key": "cls.predictions.bias", "shape": [32]} in r["unexpected"]
cmds = [h["command"] for h in r["hints"]]
assert cmds[0] == "mv bert/* ." and r["hints"][0]["matches"] == 30, r["hints"][0]
assert cmds[1].startswith("find . \\( -path") and r["hints"][1]["matches"] == 10
assert cmds[2] == "rm -r cls" and r["hints"][2]["removes"] == 9 and r["hints"][2]["matches"] == 0
assert r["status"] == "incompatible"
EOF
run json_ok 0 report --json "$PRE"
if $PYTHON -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["reference"] is None and r["status"] == "ok" and r["hints"] == []' "$T/json_ok.out"; then
	ok "json_ok"
else
	fail "json_ok"
fi

# ---- the hints in a shell, against a plain directory tree ------------------------------
# Each tensor becomes a file holding its original key; after the commands, the
# tree's keys must be the reference's and every file must hold the right source.
for sh in sh bash; do
	d="$T/tree-$sh"
	mkdir -p "$d"
	"$CKPTFS" ls "$GB" | while read -r key dtype shape; do
		p="$d/${key//.//}"
		mkdir -p "${p%/*}"
		printf '%s' "$key" >"$p"
	done
	hints_of "$T/gb.out" >"$T/hints-$sh"
	if (cd "$d" && $sh -e "$T/hints-$sh"); then ok "$sh: hint commands ran"; else fail "$sh: hint commands failed"; fi
	(cd "$d" && find . -type f | sed 's|^\./||; s|/|.|g' | sort) >"$T/got-$sh"
	grep -v '^#' "$REF" | awk '{print $1}' | sort >"$T/want"
	if cmp -s "$T/got-$sh" "$T/want"; then ok "$sh: tree matches the reference"; else
		fail "$sh: tree differs from the reference"
		diff "$T/got-$sh" "$T/want" | head >&2
	fi
	src=$(cat "$d/encoder/layer/1/output/LayerNorm/bias" 2>/dev/null)
	if [ "$src" == "bert.encoder.layer.1.output.LayerNorm.beta" ]; then ok "$sh: beta became bias"; else fail "$sh: bias holds '$src'"; fi
done

# ---- the hints inside a mount, until _report says ok -----------------------------------------
mount_case() {
	. "$CK_SRC/tests/lib/mount_common.sh" # exits 77 (this subshell only) without FUSE
	local m="$T/mnt" out="$T/fixed.bin" round cmd
	ck_mount "$m" --output "$out" --reference "$REF" "$GB" || exit 1
	for round in 1 2 3 4 5; do
		cat "$m/_report" >"$T/mreport"
		if [ "$(tail -n 1 "$T/mreport")" == "status: ok" ]; then
			break
		fi
		cmd=$(hints_of "$T/mreport" | head -n 1)
		[ -n "$cmd" ] || { fail "mount: no hint left"; cat "$T/mreport" >&2; break; }
		(cd "$m" && sh -e -c "$cmd") || fail "mount: '$cmd' failed"
	done
	expect_eq "mount: _report after the hints" "$(tail -n 1 "$T/mreport")" "status: ok"
	expect_eq "mount: three hints applied" "$round" 4
	"$CKPTFS" umount "$m" >/dev/null || fail "mount: umount"
	ck_wait_daemon "$MPID" || fail "mount: daemon status"
	"$CKPTFS" report --reference "$REF" "$out" >"$T/committed" || fail "mount: committed checkpoint does not report ok"
	expect_eq "mount: committed report" "$(tail -n 1 "$T/committed")" "status: ok"
	exit "$FAILS"
}
(FAILS=0; mount_case)
rc=$?
case $rc in
0) ok "mount case" ;;
77) echo "skip: mount case (no FUSE)" ;;
*) fail "mount case ($rc failures)" ;;
esac

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
