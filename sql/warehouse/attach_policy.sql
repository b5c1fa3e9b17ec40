-- reads: -
-- writes: -
-- params: path, alias
-- The policy macros' own file (pipelines/policy_macros.py: sql/policy/ rendered with the settings,
-- bound once), attached read-only and searched after this connection's TEMP objects and the
-- warehouse's own: `search_path` lists where an unqualified name is looked for, TEMP first always;
-- what a statement creates still goes to the warehouse.
ATTACH {{ path | sql_str }} AS {{ alias | sql_ident }} (READ_ONLY);
SET search_path = {{ ("main," ~ alias ~ ".main") | sql_str }};
