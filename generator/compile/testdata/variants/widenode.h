/* Fixture variant: base with a wider policy key (a different Go type). */
#define DP_POLICY_ENTRIES 1024
#define DP_ENABLE_POLICY 0
#define DP_WIDE_NODE 1
