-- A CSV table with a null, string functions, LIKE, casts, COALESCE.
CREATE TABLE people (id BIGINT, name STRING, city STRING, age BIGINT)
WITH ('connector' = 'files', 'path' = 'people.csv', 'format' = 'csv');
SELECT id, upper(name) AS loud, substr(city, 1, 3) AS short, char_length(name) AS len,
       CAST(id AS DOUBLE) / 2 AS half, COALESCE(age, -1) AS age, name || '@' || city AS tag
FROM people
WHERE name LIKE '%a%' OR city = 'Boston';
