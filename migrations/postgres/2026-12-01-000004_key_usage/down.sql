DROP TABLE key_usage_clients;
DROP TABLE key_usage_hourly;
