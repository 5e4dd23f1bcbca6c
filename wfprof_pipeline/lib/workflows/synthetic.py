"""Synthetic KeeperHub traces generated inside Postgres (generate_series), for the ingest tests and benchmark.

These are volume fixtures, not demo data: the demo database holds real executions (`wfprof demo seed`).
Deterministic for given arguments (`setseed`), so two databases filled alike hold the same rows.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg

from wfprof_pipeline.lib.workflows import schema

ACTION_TYPES = (
    "webhook/send",
    "slack/send-message",
    "resend/send-email",
    "web3/check-balance",
    "web3/transfer",
    "code/run",
)
# A secret in some error texts, so scrubbing is exercised at volume.
LEAKY_ERROR = "RPC failed: https://rpc.example.org/v1?apikey=SECRETKEY123 with key 0x" + "ab" * 32


def generate(
    conn: psycopg.Connection,
    *,
    executions: int,
    steps_per_execution: int,
    day: date,
    prefix: str = "syn",
    seed: float = 0.42,
) -> None:
    """Insert `executions` executions of one workflow on `day`, each with `steps_per_execution` log rows."""
    schema.create_schema(conn)
    start = datetime(day.year, day.month, day.day)
    wf = f"{prefix}-wf"
    with conn.transaction():
        conn.execute("select setseed(%s)", (seed,))
        conn.execute(
            "insert into workflows (id, name, user_id, nodes, edges) values (%s, %s, 'user-1', '[]', '[]') "
            "on conflict (id) do nothing",
            (wf, f"synthetic {prefix}"),
        )
        conn.execute(
            """
            insert into workflow_executions (id, workflow_id, user_id, status, input, output, error, started_at,
                completed_at, duration, total_steps, completed_steps, current_node_id)
            select %(prefix)s || '-e' || g, %(wf)s, 'user-1',
                   case when g %% 10 = 0 then 'error' else 'success' end,
                   jsonb_build_object('amount', g, 'to', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e'),
                   case when g %% 10 = 0 then null else jsonb_build_object('ok', true, 'n', g) end,
                   case when g %% 10 = 0 then %(leak)s end,
                   %(start)s + (g * 86399.0 / %(n)s) * interval '1 second',
                   %(start)s + (g * 86399.0 / %(n)s) * interval '1 second' + interval '250 milliseconds',
                   (50 + (random() * 400)::int)::text, %(steps)s::text, %(steps)s::text,
                   'n' || (%(steps)s - 1)
            from generate_series(1, %(n)s) as g
            """,
            {
                "prefix": prefix,
                "wf": wf,
                "leak": LEAKY_ERROR,
                "start": start,
                "n": executions,
                "steps": steps_per_execution,
            },
        )
        conn.execute(
            """
            insert into workflow_execution_logs (id, execution_id, node_id, node_name, node_type, status, input,
                output, error, started_at, completed_at, duration, timestamp)
            select %(prefix)s || '-l' || g || '-' || s, %(prefix)s || '-e' || g, 'n' || s, 'Node ' || s,
                   case when s = 0 then 'trigger' else (%(actions)s::text[])[1 + (g + s) %% %(n_actions)s] end,
                   case when g %% 10 = 0 and s = %(steps)s - 1 then 'error' else 'success' end,
                   jsonb_build_object('step', s, 'payload', repeat('x', (g %% 50)::int)),
                   jsonb_build_object('ok', true),
                   case when g %% 10 = 0 and s = %(steps)s - 1 then %(leak)s end,
                   %(start)s + (g * 86399.0 / %(n)s) * interval '1 second' + s * interval '20 milliseconds',
                   %(start)s + (g * 86399.0 / %(n)s) * interval '1 second' + (s + 1) * interval '20 milliseconds',
                   (1 + (random() * random() * 900)::int)::text,
                   %(start)s + (g * 86399.0 / %(n)s) * interval '1 second'
            from generate_series(1, %(n)s) as g, generate_series(0, %(steps)s - 1) as s
            """,
            {
                "prefix": prefix,
                "actions": list(ACTION_TYPES),
                "n_actions": len(ACTION_TYPES),
                "leak": LEAKY_ERROR,
                "start": start,
                "n": executions,
                "steps": steps_per_execution,
            },
        )
