"""Events, webhooks and the work behind them.

- `topics`: what can happen (Commerce Layer's topic names);
- `outbox`: the services record events in the transaction of their change;
- `dispatch`: events fanned out into deliveries (one per subscribed webhook) and e-mails;
- `leases`: at most one worker on a delivery or an e-mail at a time;
- `delivery`, `payloads`, `signing`, `egress`: a webhook call, its body, its signatures, and
  the network rules it obeys;
- `mail`: cards e-mailed to their recipients;
- `webhooks`: creating, changing and resetting webhooks (the services the API and the admin
  call);
- `work`, `tasks`, `engine`: Celery tasks, the sweep, and the kick after a commit.
"""
