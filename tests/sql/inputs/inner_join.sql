-- An inner join on a computed key; both sides have a column "id".
CREATE TABLE orders (id BIGINT, customer BIGINT, amount BIGINT)
WITH ('connector' = 'generate', 'rows' = '30', 'fields.id.expr' = 'i', 'fields.customer.expr' = 'i % 7', 'fields.amount.expr' = 'i * 10');
CREATE TABLE customers (id BIGINT, tier BIGINT)
WITH ('connector' = 'generate', 'rows' = '5', 'fields.id.expr' = 'i + 1', 'fields.tier.expr' = 'i % 2');
SELECT o.id, c.id AS customer_id, c.tier, o.amount
FROM orders AS o JOIN customers AS c ON o.customer = c.id
WHERE o.amount > 100 AND c.tier = 1;
