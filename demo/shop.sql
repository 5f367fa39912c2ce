-- A small shop: the sample database behind the demo alerts (`sentinel demo`).
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,          -- paid | pending | refunded
    amount REAL NOT NULL
);
CREATE TABLE stock (
    warehouse TEXT NOT NULL,
    sku TEXT NOT NULL,
    units INTEGER NOT NULL,
    PRIMARY KEY (warehouse, sku)
);
INSERT INTO orders (created_at, status, amount) VALUES
    (datetime('now', '-3 hours'), 'paid', 120.00),
    (datetime('now', '-2 hours'), 'paid', 80.50),
    (datetime('now', '-90 minutes'), 'pending', 42.00),
    (datetime('now', '-70 minutes'), 'pending', 310.00),
    (datetime('now', '-20 minutes'), 'paid', 55.25),
    (datetime('now', '-5 minutes'), 'refunded', 19.99);
INSERT INTO stock (warehouse, sku, units) VALUES
    ('berlin', 'widget', 3),
    ('berlin', 'gadget', 140),
    ('paris', 'widget', 87),
    ('paris', 'gadget', 4),
    ('madrid', 'widget', 60);
