-- A small bounded side is broadcast; two large sides are shuffled by key.
SET 'table.optimizer.join.broadcast-threshold' = '1000';
CREATE TABLE big (id BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '10000000', 'fields.id.expr' = 'i', 'fields.v.expr' = 'i % 7');
CREATE TABLE small (id BIGINT, name STRING)
WITH ('connector' = 'generate', 'rows' = '100', 'fields.id.expr' = 'i', 'fields.name.expr' = 'concat(''n'', i)');
EXPLAIN SELECT b.id, s.name FROM big b JOIN small s ON b.v = s.id;
EXPLAIN SELECT a.id, b.v FROM big a JOIN big b ON a.id = b.v;
