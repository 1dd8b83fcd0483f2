/*
 * mppdb_decoding for PostgreSQL 15: the xckit lab's stand-in for openGauss's logical
 * decoding output plugin of the same name, so that the kit's CDC reads openGauss's
 * format live on the lab's gauss.
 *
 * Written for xckit from a reading of openGauss's contrib/mppdb_decoding/
 * mppdb_decoding.cpp (openGauss-server; callbacks pg_decode_begin_txn,
 * pg_decode_commit_txn, pg_decode_change, print_literal, tuple_to_jsoninfo) and its
 * TRUNCATE line (openGauss 2024 on). What it prints, line by line:
 *
 *   BEGIN <xid>                                   include-xids (default on)
 *   COMMIT <xid> [(at <timestamptz>)] CSN <csn>   include-timestamp (default off)
 *   {"table_name":"s.t","op_type":"INSERT|UPDATE|DELETE",
 *    "columns_name":[...],"columns_type":[...],"columns_val":[...],
 *    "old_keys_name":[...],"old_keys_type":[...],"old_keys_val":[...]}
 *   table s.t[, s.u]: TRUNCATE: (no-flags)|restart_seqs|cascade
 *
 * Names are quote_identifier'd (the table quote_qualified_identifier'd), types are
 * format_type_be, values SQL literals: integers, oid, floats and numeric bare, bit
 * strings B'...', booleans true/false, everything else single-quoted with quotes
 * doubled, NULL as the word null, an unchanged TOASTed value as
 * unchanged-toast-datum. Old keys skip NULL columns (the replica identity's key).
 * Options: include-xids, include-timestamp, skip-empty-xacts, only-local,
 * force-binary, as openGauss's.
 *
 * Where PostgreSQL differs: it has no commit sequence number, so CSN prints the
 * commit record's LSN as a number; xids are 32-bit.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_MODULE_MAGIC;

extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

typedef struct
{
	MemoryContext context;
	bool		include_xids;
	bool		include_timestamp;
	bool		skip_empty_xacts;
	bool		xact_wrote_changes;
	bool		only_local;
} DecodingData;

static void
parse_option(DefElem *elem, bool *value)
{
	if (elem->arg == NULL)
		*value = true;
	else if (!parse_bool(strVal(elem->arg), value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse value \"%s\" for parameter \"%s\"",
						strVal(elem->arg), elem->defname)));
}

static void
decode_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	ListCell   *option;
	DecodingData *data = palloc0(sizeof(DecodingData));

	data->context = AllocSetContextCreate(ctx->context, "mppdb_decoding context",
										  ALLOCSET_DEFAULT_SIZES);
	data->include_xids = true;
	data->include_timestamp = false;
	data->skip_empty_xacts = false;
	data->only_local = true;
	ctx->output_plugin_private = data;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;

	foreach(option, ctx->output_plugin_options)
	{
		DefElem    *elem = lfirst(option);

		if (strcmp(elem->defname, "include-xids") == 0)
			parse_option(elem, &data->include_xids);
		else if (strcmp(elem->defname, "include-timestamp") == 0)
			parse_option(elem, &data->include_timestamp);
		else if (strcmp(elem->defname, "skip-empty-xacts") == 0)
			parse_option(elem, &data->skip_empty_xacts);
		else if (strcmp(elem->defname, "only-local") == 0)
			parse_option(elem, &data->only_local);
		else if (strcmp(elem->defname, "force-binary") == 0)
		{
			bool		force_binary = false;

			if (elem->arg == NULL)
				continue;
			parse_option(elem, &force_binary);
			if (force_binary)
				opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" = \"%s\" is unknown",
							elem->defname, elem->arg ? strVal(elem->arg) : "(null)")));
	}
}

static void
decode_shutdown(LogicalDecodingContext *ctx)
{
	DecodingData *data = ctx->output_plugin_private;

	MemoryContextDelete(data->context);
}

static void
output_begin(LogicalDecodingContext *ctx, DecodingData *data, ReorderBufferTXN *txn, bool last_write)
{
	OutputPluginPrepareWrite(ctx, last_write);
	if (data->include_xids)
		appendStringInfo(ctx->out, "BEGIN %u", txn->xid);
	else
		appendStringInfoString(ctx->out, "BEGIN");
	OutputPluginWrite(ctx, last_write);
}

static void
decode_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecodingData *data = ctx->output_plugin_private;

	data->xact_wrote_changes = false;
	if (data->skip_empty_xacts)
		return;
	output_begin(ctx, data, txn, true);
}

static void
decode_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	DecodingData *data = ctx->output_plugin_private;

	if (data->skip_empty_xacts && !data->xact_wrote_changes)
		return;
	OutputPluginPrepareWrite(ctx, true);
	if (data->include_xids)
		appendStringInfo(ctx->out, "COMMIT %u", txn->xid);
	else
		appendStringInfoString(ctx->out, "COMMIT");
	if (data->include_timestamp)
		appendStringInfo(ctx->out, " (at %s)", timestamptz_to_str(txn->xact_time.commit_time));
	appendStringInfo(ctx->out, " CSN " UINT64_FORMAT, (uint64) commit_lsn);
	OutputPluginWrite(ctx, true);
}

static bool
decode_filter(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	DecodingData *data = ctx->output_plugin_private;

	return data->only_local && origin_id != InvalidRepOriginId;
}

/* A value as openGauss's print_literal writes it. */
static void
print_literal(StringInfo s, Oid typid, char *outputstr)
{
	const char *p;

	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			appendStringInfoString(s, outputstr);
			break;
		case BITOID:
		case VARBITOID:
			appendStringInfo(s, "B'%s'", outputstr);
			break;
		case BOOLOID:
			appendStringInfoString(s, strcmp(outputstr, "t") == 0 ? "true" : "false");
			break;
		default:
			appendStringInfoChar(s, '\'');
			for (p = outputstr; *p; p++)
			{
				if (SQL_STR_DOUBLE(*p, false))
					appendStringInfoChar(s, *p);
				appendStringInfoChar(s, *p);
			}
			appendStringInfoChar(s, '\'');
			break;
	}
}

static void
json_item(StringInfo list, const char *value)
{
	if (list->len > 0)
		appendStringInfoChar(list, ',');
	escape_json(list, value);
}

/* The columns of a tuple into three JSON array bodies, as tuple_to_jsoninfo does. */
static void
tuple_columns(StringInfo names, StringInfo types, StringInfo vals, TupleDesc tupdesc,
			  HeapTuple tuple, bool skip_nulls)
{
	int			natt;
	StringInfoData v;

	initStringInfo(&v);
	for (natt = 0; natt < tupdesc->natts; natt++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, natt);
		Oid			typoutput;
		bool		typisvarlena;
		bool		isnull;
		Datum		origval;

		if (attr->attisdropped || attr->attnum < 0)
			continue;
		origval = heap_getattr(tuple, natt + 1, tupdesc, &isnull);
		if (isnull && skip_nulls)
			continue;
		json_item(names, quote_identifier(NameStr(attr->attname)));
		json_item(types, format_type_be(attr->atttypid));
		getTypeOutputInfo(attr->atttypid, &typoutput, &typisvarlena);
		resetStringInfo(&v);
		if (isnull)
			appendStringInfoString(&v, "null");
		else if (typisvarlena && VARATT_IS_EXTERNAL_ONDISK(origval))
			appendStringInfoString(&v, "unchanged-toast-datum");
		else if (!typisvarlena)
			print_literal(&v, attr->atttypid, OidOutputFunctionCall(typoutput, origval));
		else
			print_literal(&v, attr->atttypid,
						  OidOutputFunctionCall(typoutput, PointerGetDatum(PG_DETOAST_DATUM(origval))));
		json_item(vals, v.data);
	}
	pfree(v.data);
}

static void
json_array(StringInfo out, const char *key, StringInfo body)
{
	appendStringInfo(out, ",\"%s\":[%s]", key, body->data);
}

static void
decode_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
			  ReorderBufferChange *change)
{
	DecodingData *data = ctx->output_plugin_private;
	TupleDesc	tupdesc = RelationGetDescr(relation);
	MemoryContext old;
	StringInfoData names, types, vals, onames, otypes, ovals;
	const char *op;
	int			saved_float_digits = extra_float_digits;

	if (data->skip_empty_xacts && !data->xact_wrote_changes)
		output_begin(ctx, data, txn, false);
	data->xact_wrote_changes = true;

	old = MemoryContextSwitchTo(data->context);
	extra_float_digits = 0;		/* as openGauss's plugin prints floats; restored below */
	initStringInfo(&names);
	initStringInfo(&types);
	initStringInfo(&vals);
	initStringInfo(&onames);
	initStringInfo(&otypes);
	initStringInfo(&ovals);
	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			op = "INSERT";
			if (change->data.tp.newtuple != NULL)
				tuple_columns(&names, &types, &vals, tupdesc, &change->data.tp.newtuple->tuple, false);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			op = "UPDATE";
			if (change->data.tp.oldtuple != NULL)
				tuple_columns(&onames, &otypes, &ovals, tupdesc, &change->data.tp.oldtuple->tuple, true);
			if (change->data.tp.newtuple != NULL)
				tuple_columns(&names, &types, &vals, tupdesc, &change->data.tp.newtuple->tuple, false);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			op = "DELETE";
			if (change->data.tp.oldtuple != NULL)
				tuple_columns(&onames, &otypes, &ovals, tupdesc, &change->data.tp.oldtuple->tuple, true);
			break;
		default:
			extra_float_digits = saved_float_digits;
			MemoryContextSwitchTo(old);
			return;
	}
	extra_float_digits = saved_float_digits;
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoString(ctx->out, "{\"table_name\":");
	escape_json(ctx->out, quote_qualified_identifier(get_namespace_name(get_rel_namespace(RelationGetRelid(relation))),
													 RelationGetRelationName(relation)));
	appendStringInfo(ctx->out, ",\"op_type\":\"%s\"", op);
	json_array(ctx->out, "columns_name", &names);
	json_array(ctx->out, "columns_type", &types);
	json_array(ctx->out, "columns_val", &vals);
	json_array(ctx->out, "old_keys_name", &onames);
	json_array(ctx->out, "old_keys_type", &otypes);
	json_array(ctx->out, "old_keys_val", &ovals);
	appendStringInfoChar(ctx->out, '}');
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
	OutputPluginWrite(ctx, true);
}

static void
decode_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
				Relation relations[], ReorderBufferChange *change)
{
	DecodingData *data = ctx->output_plugin_private;
	MemoryContext old;
	int			i;

	if (data->skip_empty_xacts && !data->xact_wrote_changes)
		output_begin(ctx, data, txn, false);
	data->xact_wrote_changes = true;
	old = MemoryContextSwitchTo(data->context);
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoString(ctx->out, "table ");
	for (i = 0; i < nrelations; i++)
	{
		if (i > 0)
			appendStringInfoString(ctx->out, ", ");
		appendStringInfoString(ctx->out,
							   quote_qualified_identifier(get_namespace_name(relations[i]->rd_rel->relnamespace),
														  NameStr(relations[i]->rd_rel->relname)));
	}
	appendStringInfoString(ctx->out, ": TRUNCATE:");
	if (change->data.truncate.restart_seqs || change->data.truncate.cascade)
	{
		if (change->data.truncate.restart_seqs)
			appendStringInfoString(ctx->out, " restart_seqs");
		if (change->data.truncate.cascade)
			appendStringInfoString(ctx->out, " cascade");
	}
	else
		appendStringInfoString(ctx->out, " (no-flags)");
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
	OutputPluginWrite(ctx, true);
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = decode_startup;
	cb->begin_cb = decode_begin;
	cb->change_cb = decode_change;
	cb->truncate_cb = decode_truncate;
	cb->commit_cb = decode_commit;
	cb->filter_by_origin_cb = decode_filter;
	cb->shutdown_cb = decode_shutdown;
}
