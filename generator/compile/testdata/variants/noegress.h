/* Fixture variant with a different program set (no dp_egress). */
#define DP_POLICY_ENTRIES 1024
#define DP_ENABLE_POLICY 0
#define DP_NO_EGRESS 1
