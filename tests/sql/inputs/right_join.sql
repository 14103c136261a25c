-- A right join: every customer, even one without orders.
CREATE TABLE orders (id BIGINT, customer BIGINT)
WITH ('connector' = 'generate', 'rows' = '6', 'fields.id.expr' = 'i', 'fields.customer.expr' = 'i % 3');
CREATE TABLE customers (id BIGINT, name STRING)
WITH ('connector' = 'generate', 'rows' = '5', 'fields.id.expr' = 'i', 'fields.name.expr' = 'concat(''c'', i)');
SELECT c.name, o.id FROM orders o RIGHT JOIN customers c ON o.customer = c.id;
