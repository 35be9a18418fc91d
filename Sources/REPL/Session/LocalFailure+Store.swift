import Store

extension StoreError: LocalFailure {}
