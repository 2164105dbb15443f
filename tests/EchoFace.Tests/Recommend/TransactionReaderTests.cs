using EchoFace.Recommend;

namespace EchoFace.Tests.Recommend;

[Trait("Category", "Integration")]
public class TransactionReaderTests
{
    private static string Csv(string text)
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "t.csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Groceries_are_read_whole_with_the_day_first_format_detected()
    {
        var (set, report) = TransactionReader.Read(TestEnvironment.Data("retail", "groceries.csv"), ColumnMap.Groceries);
        Assert.Equal(38_765, report.Rows);
        Assert.Equal(38_765, report.Accepted);
        Assert.Equal(0, report.Malformed);
        Assert.Equal("dd-MM-yyyy", report.TimeFormat);
        Assert.Equal(3_898, set.Customers.Count);
        Assert.Equal(167, set.Items.Count);
        Assert.Equal(new DateTime(2014, 1, 1), set.First);
        Assert.Equal(new DateTime(2015, 12, 30), set.Last);
    }

    [Fact]
    public void Malformed_rows_are_counted_by_reason_with_their_lines_and_the_rest_kept()
    {
        var path = Csv("""
            cust,when,what,price
            1,2024-03-01,milk,1.20
            2,2024-03-02,bread
            ,2024-03-02,eggs,2.00
            3,2024-13-45,tea,3.00
            4,2024-03-04,coffee,cheap
            5,2024-03-05,,1.00
            6,2024-03-06,milk,0.99
            """);
        var (set, report) = TransactionReader.Read(path, ColumnMap.Parse("customer=cust,item=what,time=when,amount=price"));
        Assert.Equal(7, report.Rows);
        Assert.Equal(2, report.Accepted);
        Assert.Equal(5, report.Malformed);
        Assert.Equal(1, report.MalformedByReason["3 fields, the mapping needs 4"]);
        Assert.Equal(1, report.MalformedByReason["empty customer"]);
        Assert.Equal(1, report.MalformedByReason["empty item"]);
        Assert.Contains(report.Examples, e => e.Line == 5 && e.Reason.Contains("2024-13-45"));
        Assert.Contains(report.Examples, e => e.Line == 6 && e.Reason.Contains("cheap"));
        Assert.Equal(["1", "6"], set.Customers);
        Assert.Equal(0.99f, set.Purchases[1].Amount);
    }

    [Fact]
    public void A_mapping_to_a_missing_column_names_the_columns_there_are()
    {
        var path = Csv("a,b,c\n1,2,3\n");
        var e = Assert.Throws<BadInputException>(() => TransactionReader.Read(path, ColumnMap.Parse("customer=a,item=b,time=when")));
        Assert.Contains("no column 'when' for the time", e.Message);
        Assert.Contains("its columns: a, b, c", e.Message);
    }

    [Theory]
    [InlineData("customer=a,item=b", "lacks time=COLUMN")]
    [InlineData("customer=a,item=b,time=c,colour=d", "unknown role 'colour'")]
    [InlineData("customer=a,customer=b,item=c,time=d", "gives 'customer' twice")]
    [InlineData("customer", "is not role=column")]
    public void A_malformed_mapping_says_what_is_wrong(string spec, string expected) =>
        Assert.Contains(expected, Assert.Throws<BadInputException>(() => ColumnMap.Parse(spec)).Message);

    [Fact]
    public void Dates_that_read_either_way_must_be_given_a_format()
    {
        var path = Csv("c,i,t\n1,x,01/02/2024\n2,y,03/04/2024\n");
        var e = Assert.Throws<BadInputException>(() => TransactionReader.Read(path, new ColumnMap("c", "i", "t")));
        Assert.Contains("--time-format", e.Message);
        var (set, _) = TransactionReader.Read(path, new ColumnMap("c", "i", "t"), "MM/dd/yyyy");
        Assert.Equal(new DateTime(2024, 1, 2), set.First);
    }

    [Fact]
    public void Unix_seconds_are_read()
    {
        var (set, report) = TransactionReader.Read(Csv("c,i,t\n1,x,1700000000\n"), new ColumnMap("c", "i", "t"));
        Assert.Equal("unix", report.TimeFormat);
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20), set.First);
    }

    [Fact]
    public void Files_with_nothing_usable_are_refused_by_name()
    {
        Assert.Contains("does not exist", Assert.Throws<BadInputException>(() => TransactionReader.Read("/nonexistent/t.csv", ColumnMap.Groceries)).Message);
        Assert.Contains("no rows", Assert.Throws<BadInputException>(() => TransactionReader.Read(Csv("c,i,t\n"), new ColumnMap("c", "i", "t"))).Message);
        var bad = Assert.Throws<BadInputException>(() => TransactionReader.Read(Csv("c,i,t\n1,x,yesterday\n2,y,today\n"), new ColumnMap("c", "i", "t"), "yyyy-MM-dd"));
        Assert.Contains("none of its 2 rows", bad.Message);
    }

    [Fact]
    public void Profiles_keep_numbers_and_one_hot_text_and_count_bad_rows()
    {
        var path = Csv("""
            member,platform,engagement,sentiment
            1,instagram,0.8,0.1
            2,tiktok,0.2,
            2,instagram,0.5,0.5
            3,instagram,0.4
            """);
        var (profiles, report) = CustomerProfiles.Read(path, "member");
        Assert.Equal(["platform=instagram", "platform=tiktok", "engagement", "sentiment"], profiles.FeatureNames);
        Assert.Equal([1f, 0f, 0.8f, 0.1f], profiles.For("1"));
        Assert.True(float.IsNaN(profiles.For("2")[3]));
        Assert.All(profiles.For("unknown"), v => Assert.True(float.IsNaN(v)));
        Assert.Equal(2, report.Malformed); // the repeated id and the short row
    }
}
