-- One narrow index that covers every structured filter, so facet counts and the planner's match
-- counts run as index-only scans instead of reading 2.3 KB heap rows (vectors are inline since
-- 0002). Measured on 100k: facets over a 47% filter 61 ms -> 25 ms. The heap is still read for
-- radius filters (lat/lon) and for the rows a page returns.
CREATE INDEX vehicles_covering ON vehicles
    (body, fuel, make, model, year, price, mileage, drivetrain, transmission, color, dealer)
    WHERE status = 'active';
