-- The Nexmark tables every query reads: one generator (the same events,
-- seed and rate in each table, so bids, auctions and people agree),
-- split into its three kinds of event, with the suite's 4-second
-- watermark delay. ${EVENTS} is set by `faro-bench nexmark --events`.
CREATE TABLE person (id BIGINT, name STRING, email_address STRING, credit_card STRING,
  city STRING, state STRING, date_time TIMESTAMP(3), extra STRING,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
WITH ('connector' = 'nexmark', 'events' = '${EVENTS}');
CREATE TABLE auction (id BIGINT, item_name STRING, description STRING, initial_bid BIGINT,
  reserve BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT,
  category BIGINT, extra STRING,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
WITH ('connector' = 'nexmark', 'events' = '${EVENTS}');
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  date_time TIMESTAMP(3), extra STRING,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
WITH ('connector' = 'nexmark', 'events' = '${EVENTS}');
