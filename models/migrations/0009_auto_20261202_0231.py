from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_auto_20261201_2007')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ProductSalesChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.BigIntField(db_index=True)),
                ('units', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'product_sales_change', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Units of a product paid (positive) or refunded (negative), not yet added to Product.sales.'},
            bases=['Model'],
        ),
    ]
