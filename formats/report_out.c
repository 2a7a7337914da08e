/*
 * report_out.c — the report as text (design.md §5, fixed: scripts grep it)
 * and as JSON (`ckptfs report --json`, through cJSON).  Keys print as the
 * mount's `shape` file prints them: in single quotes with escapes only when
 * they hold blanks, quotes or control bytes, so each entry stays one line.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report_int.h"

static void add_shape(struct ck_buf *b, int ndim, const int64_t *shape)
{
	ck_buf_addc(b, '[');
	for (int i = 0; i < ndim; i++)
		ck_buf_printf(b, i ? ",%lld" : "%lld", (long long)shape[i]);
	ck_buf_addc(b, ']');
}

static void add_side(struct ck_buf *b, const struct ck_rside *x)
{
	if (x->layers >= 0) {
		ck_buf_printf(b, " %lld layers", x->layers);
		return;
	}
	if (x->ndim >= 0) {
		ck_buf_addc(b, ' ');
		add_shape(b, x->ndim, x->shape);
	}
	if (x->dtype != CK_DT_INVALID)
		ck_buf_printf(b, " %s", ck_dtype_name(x->dtype));
}

static char *render_text(const struct ck_rstate *s, int ok)
{
	struct ck_buf b;
	ck_buf_init(&b);
	if (s->ref)
		ck_buf_printf(&b, "reference: %s (%zu tensors)\n", s->ref->name, s->ref->n);
	else
		ck_buf_adds(&b, "reference: none (self-check)\n");
	ck_buf_printf(&b, "checkpoint: %zu tensors\n", s->nit);
	ck_buf_printf(&b, "missing %zu\n", s->nmissing);
	for (size_t i = 0; i < s->nmissing; i++) {
		const struct ck_ref_entry *e = &s->ref->e[s->missing[i]];
		ck_buf_adds(&b, "  ");
		ck_key_quote(&b, e->key, e->len);
		if (e->ndim >= 0) {
			ck_buf_addc(&b, ' ');
			add_shape(&b, e->ndim, e->shape);
		}
		ck_buf_addc(&b, '\n');
	}
	ck_buf_printf(&b, "unexpected %zu\n", s->nunexp);
	for (size_t i = 0; i < s->nunexp; i++) {
		const struct ck_ritem *it = &s->it[s->unexp[i]];
		ck_buf_adds(&b, "  ");
		ck_key_quote(&b, it->key, it->len);
		ck_buf_addc(&b, ' ');
		add_shape(&b, it->ndim, it->shape);
		ck_buf_addc(&b, '\n');
	}
	ck_buf_printf(&b, "mismatched %zu\n", s->nmis);
	for (size_t i = 0; i < s->nmis; i++) {
		const struct ck_rmis *m = &s->mis[i];
		ck_buf_adds(&b, "  ");
		ck_key_quote(&b, m->key, strlen(m->key));
		ck_buf_adds(&b, " checkpoint");
		add_side(&b, &m->ck);
		ck_buf_printf(&b, " %s", m->label);
		add_side(&b, &m->other);
		if (m->note)
			ck_buf_printf(&b, " (%s)", m->note);
		ck_buf_addc(&b, '\n');
	}
	if (s->nhints)
		ck_buf_adds(&b, "hints\n");
	for (size_t i = 0; i < s->nhints; i++)
		ck_buf_printf(&b, "  %s   %s\n", s->hints[i].cmd, s->hints[i].text);
	ck_buf_printf(&b, "status: %s\n", ok ? "ok" : "incompatible");
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

static cJSON *json_shape(int ndim, const int64_t *shape)
{
	if (ndim < 0)
		return cJSON_CreateNull();
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < ndim; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static cJSON *json_side(const struct ck_rside *x)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (x->layers >= 0) {
		cJSON_AddNumberToObject(o, "layers", (double)x->layers);
		return o;
	}
	cJSON_AddItemToObject(o, "shape", json_shape(x->ndim, x->shape));
	if (x->dtype != CK_DT_INVALID)
		cJSON_AddStringToObject(o, "dtype", ck_dtype_name(x->dtype));
	else
		cJSON_AddNullToObject(o, "dtype");
	return o;
}

/* A key as a JSON string: cJSON wants NUL-terminated text, keys may not be. */
static cJSON *json_key_entry(const char *key, size_t len, cJSON *shape)
{
	cJSON *o = cJSON_CreateObject();
	char *k = strndup(key, len);
	if (o && k) {
		cJSON_AddStringToObject(o, "key", k);
		cJSON_AddItemToObject(o, "shape", shape);
	} else {
		cJSON_Delete(shape);
	}
	free(k);
	return o;
}

static char *render_json(const struct ck_rstate *s, int ok)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	if (s->ref) {
		cJSON_AddStringToObject(root, "reference", s->ref->name);
		cJSON_AddNumberToObject(root, "reference_tensors", (double)s->ref->n);
	} else {
		cJSON_AddNullToObject(root, "reference");
	}
	cJSON_AddNumberToObject(root, "checkpoint_tensors", (double)s->nit);
	cJSON *a = cJSON_AddArrayToObject(root, "missing");
	for (size_t i = 0; a && i < s->nmissing; i++) {
		const struct ck_ref_entry *e = &s->ref->e[s->missing[i]];
		cJSON_AddItemToArray(a, json_key_entry(e->key, e->len, json_shape(e->ndim, e->shape)));
	}
	a = cJSON_AddArrayToObject(root, "unexpected");
	for (size_t i = 0; a && i < s->nunexp; i++) {
		const struct ck_ritem *it = &s->it[s->unexp[i]];
		cJSON_AddItemToArray(a, json_key_entry(it->key, it->len, json_shape(it->ndim, it->shape)));
	}
	a = cJSON_AddArrayToObject(root, "mismatched");
	for (size_t i = 0; a && i < s->nmis; i++) {
		const struct ck_rmis *m = &s->mis[i];
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "key", m->key);
		cJSON_AddItemToObject(o, "checkpoint", json_side(&m->ck));
		/* the other side is named after where it comes from */
		cJSON_AddItemToObject(o, strcmp(m->label, "reference") ? "config" : "reference", json_side(&m->other));
		if (m->note)
			cJSON_AddStringToObject(o, "note", m->note);
		cJSON_AddItemToArray(a, o);
	}
	a = cJSON_AddArrayToObject(root, "hints");
	for (size_t i = 0; a && i < s->nhints; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "command", s->hints[i].cmd);
		cJSON_AddNumberToObject(o, "matches", (double)s->hints[i].matches);
		cJSON_AddNumberToObject(o, "removes", (double)s->hints[i].removes);
		cJSON_AddStringToObject(o, "text", s->hints[i].text);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddStringToObject(root, "status", ok ? "ok" : "incompatible");
	char *txt = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!txt)
		return NULL;
	/* cJSON allocates with malloc by default; add the newline a text file ends with */
	size_t n = strlen(txt);
	char *out = realloc(txt, n + 2);
	if (!out) {
		free(txt);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = 0;
	return out;
}

char *ck_report_render(const struct ck_rstate *s, int json, int ok)
{
	return json ? render_json(s, ok) : render_text(s, ok);
}
