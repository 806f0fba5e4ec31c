-- Amortised cost of one canonical AWS line item, as a DuckDB expression over the
-- columns of services/downloader/aws/columns.py. It follows the rule set of the AWS
-- Cloud Intelligence Dashboards (aws-solutions-library-samples/
-- cloud-intelligence-dashboards-framework, cid/builtin/core/data/queries/cid/summary_view.sql),
-- which matches Cost Explorer's amortised view:
--   SavingsPlanCoveredUsage  savingsPlan/SavingsPlanEffectiveCost
--   SavingsPlanNegation      0 (it cancels the covered usage's on-demand cost)
--   SavingsPlanUpfrontFee    0 (the upfront part is inside the effective cost)
--   SavingsPlanRecurringFee  savingsPlan/TotalCommitmentToDate - savingsPlan/UsedCommitment,
--                            the unused commitment
--   DiscountedUsage          reservation/EffectiveCost
--   RIFee                    reservation/UnusedAmortizedUpfrontFeeForBillingPeriod
--                            + reservation/UnusedRecurringFee, the unused reservation
--   Fee with a reservation ARN  0 (an RI upfront payment, amortised into EffectiveCost)
--   Refund of a Savings Plan's one-time fee  0 (ComputeSavingsPlans, description
--                            'Refund for one-time fee for Savings Plan ID...')
--   anything else            lineItem/UnblendedCost
-- A null input of a rule counts as 0, as NULL drops out of the dashboards' sums.
-- Koku's daily summary instead takes SavingsPlanEffectiveCost for every Savings Plan type
-- and unblended cost for RI lines, so its amortised total differs on RI months.
CAST(
    CASE
        WHEN line_item_type = 'SavingsPlanCoveredUsage'
            THEN coalesce(savingsplan_effective_cost, 0)
        WHEN line_item_type IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee')
            THEN 0
        WHEN line_item_type = 'SavingsPlanRecurringFee'
            THEN coalesce(savingsplan_total_commitment_to_date, 0)
                - coalesce(savingsplan_used_commitment, 0)
        WHEN line_item_type = 'DiscountedUsage'
            THEN coalesce(reservation_effective_cost, 0)
        WHEN line_item_type = 'RIFee'
            THEN coalesce(reservation_unused_amortized_upfront_fee, 0)
                + coalesce(reservation_unused_recurring_fee, 0)
        WHEN line_item_type = 'Fee' AND coalesce(reservation_arn, '') <> ''
            THEN 0
        WHEN line_item_type = 'Refund'
            AND product_code = 'ComputeSavingsPlans'
            AND line_item_description LIKE 'Refund for one-time fee for Savings Plan ID%'
            THEN 0
        ELSE unblended_cost
    END AS DECIMAL(38, 18)
)
