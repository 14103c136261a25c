-- A left join: customers 0 and 6 have no row on the right.
CREATE TABLE orders (id BIGINT, customer BIGINT)
WITH ('connector' = 'generate', 'rows' = '14', 'fields.id.expr' = 'i', 'fields.customer.expr' = 'i % 7');
CREATE TABLE customers (id BIGINT, name STRING)
WITH ('connector' = 'generate', 'rows' = '5', 'fields.id.expr' = 'i + 1', 'fields.name.expr' = 'concat(''c'', i + 1)');
SELECT o.id, o.customer, c.name FROM orders o LEFT JOIN customers c ON o.customer = c.id;
