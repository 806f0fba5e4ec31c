-- Tables of one tenant. {schema} is replaced by a schema name that passed
-- shared.identifiers.validate_schema_name and was quoted; nothing else is formatted in.
CREATE SCHEMA IF NOT EXISTS {schema};
