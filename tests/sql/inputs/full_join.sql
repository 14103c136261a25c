-- A full outer join: orders of customer 0 have no customer row,
-- customers 7 and 8 a row but no orders; both kinds are kept, padded.
-- Streaming, a changelog (a later match replaces a padded row).
CREATE TABLE orders (id BIGINT, customer BIGINT)
WITH ('connector' = 'generate', 'rows' = '14', 'fields.id.expr' = 'i', 'fields.customer.expr' = 'i % 7');
CREATE TABLE customers (id BIGINT, name STRING)
WITH ('connector' = 'generate', 'rows' = '8', 'fields.id.expr' = 'i + 1', 'fields.name.expr' = 'concat(''c'', i + 1)');
SELECT o.id, o.customer, c.id AS cid, c.name
FROM orders o FULL OUTER JOIN customers c ON o.customer = c.id;
