/*
 * report_self.c — `_report` without a reference: what a checkpoint says about
 * itself.  Legacy LayerNorm gamma/beta names (under a norm-like folder, with
 * no weight/bias beside them), a wrapper prefix every key shares (`module.`,
 * `_orig_mod.`, a training checkpoint's `state_dict`), keys that exist both
 * with and without `module.`, and shapes or layer counts that contradict the
 * checkpoint's config.json (hidden_size, vocab_size, intermediate_size,
 * max_position_embeddings, num_hidden_layers and their GPT-2 names).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "report_int.h"

#define CK_MAX_RM_PATHS 16

static const char *const wrappers[] = {"module", "_orig_mod", NULL};
static const char *const self_wrappers[] = {"module", "_orig_mod", "state_dict", "model_state_dict", NULL};

/* ---- self-check --------------------------------------------------------------- */

static int in_list(const char *const *list, const char *s, size_t len)
{
	for (size_t i = 0; list[i]; i++)
		if (strlen(list[i]) == len && !memcmp(list[i], s, len))
			return 1;
	return 0;
}

/* Leading wrapper segments of k: bytes up to and including the last wrapper's separator. */
static size_t wrapper_len(const char *const *list, const char *k, size_t len, char sep)
{
	size_t at = 0;
	for (;;) {
		const char *e = memchr(k + at, sep, len - at);
		if (!e || !in_list(list, k + at, (size_t)(e - (k + at))))
			return at;
		at = (size_t)(e - k) + 1;
	}
}

static int norm_parent(const char *k, size_t last, char sep)
{
	size_t e = last - 1, b = e; /* the parent segment is [b, e) */
	while (b > 0 && k[b - 1] != sep)
		b--;
	if (e - b >= 2 && (k[b] == 'l' || k[b] == 'L') && (k[b + 1] == 'n' || k[b + 1] == 'N'))
		return 1;
	for (size_t i = b; i + 4 <= e; i++)
		if (!strncasecmp(k + i, "norm", 4))
			return 1;
	return 0;
}

static void selfcheck_prefix(struct ck_rstate *s)
{
	if (!s->nit)
		return;
	const struct ck_ritem *it0 = &s->it[0];
	size_t w = wrapper_len(self_wrappers, it0->key, it0->len, s->sep);
	for (size_t j = 1; j < s->nit && w; j++) {
		const struct ck_ritem *it = &s->it[j];
		size_t wj = wrapper_len(self_wrappers, it->key, it->len, s->sep);
		while (w && (wj < w || memcmp(it->key, it0->key, w) != 0)) { /* shorten to a shared run */
			size_t k = w - 1;
			while (k > 0 && it0->key[k - 1] != s->sep)
				k--;
			w = k;
		}
	}
	if (!w)
		return;
	char *path;
	if (!ck_rp_prefix_node(s, it0, ck_rp_seg_count(it0->key, w - 1, s->sep), &path))
		return;
	struct ck_buf b;
	ck_buf_init(&b);
	ck_buf_adds(&b, "mv ");
	ck_sh_quote(&b, path);
	ck_buf_adds(&b, "/* .");
	free(path);
	int ddp = in_list(wrappers, it0->key, ck_rp_seg_prefix_len(it0->key, it0->len, s->sep, 1));
	char *all = s->nit == 1 ? strdup("the only key") : ck_rp_fmt("all %zu keys", s->nit);
	ck_rstate_hint(s, ck_rp_take(&b), s->nit, 0,
		       all ? ck_rp_fmt("strips the prefix %.*s shared by %s (%s)", (int)w, it0->key, all,
				 ddp ? "a DDP or torch.compile wrapper" : "the model inside a training checkpoint")
			   : NULL, CK_HINT_FIX);
	free(all);
}

static void selfcheck_duplicates(struct ck_rstate *s)
{
	size_t ndup = 0, nwrapped = 0, first = SIZE_MAX;
	uint8_t *dup = calloc(s->nit ? s->nit : 1, 1);
	if (!dup) {
		s->oom = 1;
		return;
	}
	for (size_t j = 0; j < s->nit; j++) {
		const struct ck_ritem *it = &s->it[j];
		size_t w = wrapper_len(wrappers, it->key, it->len, s->sep);
		if (!w)
			continue;
		nwrapped++;
		if (!ck_smap_get(&s->ckkeys, it->key + w, it->len - w, ck_fnv(it->key + w, it->len - w)))
			continue;
		dup[j] = s->it_unexp[j] = 1;
		if (first == SIZE_MAX)
			first = j;
		ndup++;
	}
	if (!ndup) {
		free(dup);
		return;
	}
	struct ck_buf b;
	ck_buf_init(&b);
	const struct ck_ritem *f = &s->it[first];
	size_t fw = wrapper_len(wrappers, f->key, f->len, s->sep);
	char *path = NULL;
	if (ndup == nwrapped && ck_rp_prefix_node(s, f, 1, &path)) {
		/* every wrapped key has a twin, all under one wrapper: the folder goes */
		int one = 1;
		for (size_t j = 0; j < s->nit && one; j++)
			if (dup[j] && (s->it[j].len < fw || memcmp(s->it[j].key, f->key, fw)))
				one = 0;
		if (one) {
			ck_buf_adds(&b, "rm -r ");
			ck_sh_quote(&b, path);
		}
	}
	free(path);
	if (!b.len && ndup <= CK_MAX_RM_PATHS) {
		ck_buf_adds(&b, "rm");
		for (size_t j = 0; j < s->nit; j++) {
			if (!dup[j])
				continue;
			char *p = ck_node_path(s->it[j].node);
			if (!p) {
				s->oom = 1;
				break;
			}
			ck_buf_addc(&b, ' ');
			ck_sh_quote(&b, p);
			free(p);
		}
	}
	free(dup);
	if (!b.len) {
		ck_buf_release(&b);
		return;
	}
	ck_rstate_hint(s, ck_rp_take(&b), 0, ndup,
		       ck_rp_fmt("removes %zu %s that also %s without the %.*s prefix", ndup,
				 ck_rp_plural(ndup, "key", "keys"), ck_rp_plural(ndup, "exists", "exist"), (int)fw, f->key),
		       CK_HINT_REMOVE);
}

static void selfcheck_legacy(struct ck_rstate *s)
{
	struct ck_legacy lg = {0};
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		const struct ck_ritem *it = &s->it[j];
		size_t last;
		const char *nw = ck_legacy_name(it->key, it->len, s->sep, &last);
		if (!nw || !norm_parent(it->key, last, s->sep))
			continue;
		char *k = ck_rp_fmt("%.*s%s", (int)last, it->key, nw);
		if (!k) {
			s->oom = 1;
			break;
		}
		int twin = ck_smap_get(&s->ckkeys, k, strlen(k), ck_fnv(k, strlen(k))) != NULL;
		free(k);
		if (twin)
			continue;
		s->it_unexp[j] = 1;
		ck_legacy_note(s, &lg, j);
	}
	ck_legacy_hint(s, &lg, 1);
	ck_legacy_release(&lg);
}

/* ---- config.json ------------------------------------------------------------- */

enum { F_HIDDEN, F_VOCAB, F_INTER, F_MAXPOS, F_LAYERS, F_COUNT };

static const char *const field_names[F_COUNT][3] = {
	[F_HIDDEN] = {"hidden_size", "n_embd", "d_model"},
	[F_VOCAB] = {"vocab_size"},
	[F_INTER] = {"intermediate_size", "n_inner"},
	[F_MAXPOS] = {"max_position_embeddings", "n_positions"},
	[F_LAYERS] = {"num_hidden_layers", "n_layer"},
};

static const struct {
	const char *suffix;
	int d0, d1;
} shape_rules[] = {
	{"word_embeddings.weight", F_VOCAB, F_HIDDEN},
	{"embed_tokens.weight", F_VOCAB, F_HIDDEN},
	{"wte.weight", F_VOCAB, F_HIDDEN},
	{"lm_head.weight", F_VOCAB, F_HIDDEN},
	{"predictions.decoder.weight", F_VOCAB, F_HIDDEN},
	{"position_embeddings.weight", F_MAXPOS, F_HIDDEN},
	{"wpe.weight", F_MAXPOS, F_HIDDEN},
	{"intermediate.dense.weight", F_INTER, F_HIDDEN},
	{"mlp.gate_proj.weight", F_INTER, F_HIDDEN},
	{"mlp.up_proj.weight", F_INTER, F_HIDDEN},
	{"mlp.down_proj.weight", F_HIDDEN, F_INTER},
	{"attention.self.query.weight", F_HIDDEN, F_HIDDEN},
};

/* Does key end with the dotted suffix at a segment boundary (suffix written with '.')? */
static int ends_with(const char *k, size_t len, const char *suffix, char sep)
{
	size_t sl = strlen(suffix);
	if (sl > len || (sl < len && k[len - sl - 1] != sep))
		return 0;
	for (size_t i = 0; i < sl; i++)
		if (k[len - sl + i] != (suffix[i] == '.' ? sep : suffix[i]))
			return 0;
	return 1;
}

static void config_shapes(struct ck_rstate *s, const long long *f, const char *const *fname)
{
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		const struct ck_ritem *it = &s->it[j];
		if (it->ndim != 2)
			continue;
		for (size_t r = 0; r < sizeof shape_rules / sizeof shape_rules[0]; r++) {
			int a = shape_rules[r].d0, c = shape_rules[r].d1;
			if (f[a] < 0 || f[c] < 0 || !ends_with(it->key, it->len, shape_rules[r].suffix, s->sep))
				continue;
			if (it->shape[0] == f[a] && it->shape[1] == f[c])
				break;
			struct ck_rmis *m = ck_rstate_mis(s, it->key, it->len);
			if (!m)
				break;
			m->label = "config.json";
			m->dims[0] = f[a];
			m->dims[1] = f[c];
			m->ck = (struct ck_rside){it->ndim, it->shape, it->dtype, -1};
			m->other = (struct ck_rside){2, m->dims, CK_DT_INVALID, -1};
			m->note = a == c ? ck_rp_fmt("%s", fname[a]) : ck_rp_fmt("%s, %s", fname[a], fname[c]);
			if (!m->note)
				s->oom = 1;
			break;
		}
	}
}

/* Distinct N in "...layer.N..." / "layers.N" / "h.N" per folder against the config's count. */
static void config_layers(struct ck_rstate *s, long long want, const char *fname)
{
	struct ck_smap seen = {0}, groups = {0};
	size_t *counts = NULL, *firsts = NULL, ngroups = 0, cap = 0;
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		const char *k = s->it[j].key;
		size_t len = s->it[j].len, b = 0;
		while (b < len) {
			const char *e = memchr(k + b, s->sep, len - b);
			size_t sl = e ? (size_t)(e - (k + b)) : len - b;
			size_t nb = b + sl + 1; /* the next segment */
			int name = (sl == 5 && !memcmp(k + b, "layer", 5)) || (sl == 6 && !memcmp(k + b, "layers", 6)) ||
				   (sl == 1 && k[b] == 'h');
			size_t d = nb;
			while (e && d < len && d - nb < 9 && isdigit((unsigned char)k[d]))
				d++;
			if (name && e && d > nb && (d == len || k[d] == s->sep)) {
				size_t glen = b + sl, *slot;
				int added = ck_smap_put(&groups, k, glen, ck_fnv(k, glen), ngroups, &slot);
				if (added > 0) {
					if (ngroups == cap) {
						cap = cap ? cap * 2 : 8;
						size_t *c2 = realloc(counts, cap * sizeof *c2), *f2 = c2 ? realloc(firsts, cap * sizeof *f2) : NULL;
						if (c2)
							counts = c2;
						if (f2)
							firsts = f2;
						if (!c2 || !f2) {
							s->oom = 1;
							break;
						}
					}
					counts[ngroups] = 0;
					firsts[ngroups++] = j;
				}
				int fresh = added >= 0 ? ck_smap_put(&seen, k, d, ck_fnv(k, d), 0, NULL) : -1;
				if (added < 0 || fresh < 0) {
					s->oom = 1;
					break;
				}
				counts[*slot] += (size_t)fresh;
				break; /* the outermost layer index only */
			}
			if (!e)
				break;
			b = nb;
		}
	}
	for (size_t g = 0; g < ngroups && !s->oom; g++) {
		if ((long long)counts[g] == want)
			continue;
		const struct ck_ritem *it = &s->it[firsts[g]];
		size_t glen = 0;
		for (size_t i = 0; i < groups.cap; i++)
			if (groups.e[i].s && groups.e[i].val == g)
				glen = groups.e[i].len;
		struct ck_rmis *m = ck_rstate_mis(s, it->key, glen);
		if (!m)
			break;
		m->label = "config.json";
		m->ck.layers = (long long)counts[g];
		m->other.layers = want;
		if (!(m->note = strdup(fname)))
			s->oom = 1;
	}
	free(counts);
	free(firsts);
	ck_smap_release(&seen);
	ck_smap_release(&groups);
}

static void selfcheck_config(struct ck_rstate *s)
{
	const struct ck_ckpt *ck = s->t->ck;
	if (!ck || !ck->config_json)
		return;
	cJSON *root = cJSON_ParseWithLength(ck->config_json, ck->config_len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return;
	}
	long long f[F_COUNT];
	const char *fname[F_COUNT];
	for (int i = 0; i < F_COUNT; i++) {
		f[i] = -1;
		fname[i] = NULL;
		for (int k = 0; k < 3 && field_names[i][k] && f[i] < 0; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, field_names[i][k]);
			if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 &&
			    v->valuedouble == (double)(long long)v->valuedouble) {
				f[i] = (long long)v->valuedouble;
				fname[i] = field_names[i][k];
			}
		}
	}
	cJSON_Delete(root);
	config_shapes(s, f, fname);
	if (f[F_LAYERS] >= 0)
		config_layers(s, f[F_LAYERS], fname[F_LAYERS]);
}

void ck_report_selfcheck(struct ck_rstate *s)
{
	selfcheck_legacy(s);
	if (!s->oom)
		selfcheck_prefix(s);
	if (!s->oom)
		selfcheck_duplicates(s);
	if (!s->oom)
		selfcheck_config(s);
}
