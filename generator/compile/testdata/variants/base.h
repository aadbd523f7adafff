/* Fixture variant: policy off. */
#define DP_POLICY_ENTRIES 1024
#define DP_ENABLE_POLICY 0
