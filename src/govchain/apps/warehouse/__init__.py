"""Warehouse-receipt pledge financing (issue 14): the first application on the registry.

`app.register` adds its kinds (`wr`, `wr.readings`), governance actions (wr-freeze,
wr-unfreeze), namespace (`warehouse`) and parameters; a chain runs it when its
genesis names it (Genesis.apps). docs/warehouse.md explains the model.
"""
